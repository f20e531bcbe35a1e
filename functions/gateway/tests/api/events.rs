//! End to end through the gateway: register, log in, order, and follow every event of
//! the saga over the WebSocket, then the compensation events of a declined card, then
//! a reconnect that catches up exactly.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use gateway::auth::tickets::Tickets;
use gateway::auth::{AuthUser, Role, now_secs};
use gateway::events::routes::{CLOSE_LOGGED_OUT, CLOSE_TOKEN_EXPIRED};
use gateway::events::sockets::MAX_PER_USER;
use service_kit::testing;

use crate::support::{As, Stack, wait_for};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A ticket for the event stream, as the UI gets one.
pub async fn ticket(me: &As<'_>) -> String {
    let issued = me.post("/v1/events/ticket", json!({})).await.expect(201);
    assert_eq!(issued["expires_in"], 30);
    issued["ticket"].as_str().expect("ticket").to_owned()
}

fn events_url(stack: &Stack, ticket: &str, after: u64) -> String {
    format!(
        "{}/v1/events?ticket={ticket}&after={after}",
        stack.gateway.base_url.replace("http://", "ws://")
    )
}

/// Opens the event stream; the HTTP status of a refused handshake.
async fn try_connect(stack: &Stack, ticket: &str, after: u64) -> Result<Socket, u16> {
    match tokio_tungstenite::connect_async(events_url(stack, ticket, after)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("handshake failed: {other}"),
    }
}

async fn connect(stack: &Stack, me: &As<'_>, after: u64) -> Socket {
    try_connect(stack, &ticket(me).await, after)
        .await
        .expect("websocket")
}

/// Reads until the server closes; its close code.
async fn close_code(socket: &mut Socket) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("the server closes the socket");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(_)) => {}
            other => panic!("closed without a close frame: {other:?}"),
        }
    }
}

/// Reads events until one of `kind` arrives.
async fn events_until(socket: &mut Socket, kind: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event; got {events:#?}"))
            .expect("socket open")
            .expect("message");
        if let Message::Text(text) = message {
            let event: Value = serde_json::from_str(&text).expect("json event");
            let done = event["kind"] == kind;
            events.push(event);
            if done {
                return events;
            }
        }
    }
}

fn ids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("id").parse().expect("numeric"))
        .collect()
}

/// The steps the saga's final notification (the last event) reports it ran.
fn steps(events: &[Value]) -> Vec<String> {
    let last = events.last().expect("a final notification");
    last["data"]["steps"]
        .as_array()
        .expect("the steps it ran")
        .iter()
        .map(|step| {
            format!(
                "{} {}",
                step["name"].as_str().unwrap_or("?"),
                step["status"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test]
async fn every_saga_event_arrives_over_the_websocket_in_order_and_a_reconnect_catches_up() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let mut socket = connect(&stack, &me, 0).await;

    // The provider fails twice: the customer hears of both retries as they happen,
    // then gets the final notification, which carries the steps the saga ran.
    me.order(
        "ws-1",
        json!([{"sku": "MUG", "quantity": 1}]),
        "card_transient_2",
    )
    .await
    .expect(201);
    let completed = events_until(&mut socket, "order.completed").await;
    let retries: Vec<(&Value, &Value)> = completed
        .iter()
        .filter(|e| e["kind"] == "order.step")
        .map(|e| (&e["data"]["step"], &e["data"]["status"]))
        .collect();
    assert_eq!(
        retries,
        [(&json!("charge_payment"), &json!("retrying")); 2],
        "{completed:#?}"
    );
    assert_eq!(
        steps(&completed),
        [
            "create_order completed",
            "reserve_inventory completed",
            "charge_payment completed",
            "confirm_order completed"
        ]
    );
    let first_ids = ids(&completed);
    let expected: Vec<u64> = (1..=first_ids.len() as u64).collect();
    assert_eq!(first_ids, expected, "ids without gap or duplicate");

    me.order(
        "ws-2",
        json!([{"sku": "MUG", "quantity": 1}]),
        "card_decline",
    )
    .await
    .expect(201);
    let cancelled = events_until(&mut socket, "order.cancelled").await;
    assert_eq!(
        steps(&cancelled),
        [
            "create_order completed",
            "reserve_inventory completed",
            "charge_payment failed",
            // A declined charge is refunded (a no-op): an earlier attempt may have charged.
            "refund_payment completed",
            "release_inventory completed",
            "cancel_order completed"
        ]
    );
    let all: Vec<u64> = first_ids
        .iter()
        .chain(ids(&cancelled).iter())
        .copied()
        .collect();
    let expected: Vec<u64> = (1..=all.len() as u64).collect();
    assert_eq!(all, expected);
    drop(socket);

    // Reconnecting after event 2 replays exactly what came after it.
    let mut again = connect(&stack, &me, 2).await;
    let replayed = events_until(&mut again, "order.cancelled").await;
    assert_eq!(ids(&replayed), (3..=all.len() as u64).collect::<Vec<_>>());
    assert_eq!(replayed.last(), cancelled.last());
}

#[tokio::test]
async fn the_event_stream_needs_a_fresh_single_use_ticket_and_a_websocket() {
    let stack = Stack::start().await;
    let (user_id, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    assert_eq!(try_connect(&stack, "forged", 0).await.err(), Some(401));

    // Not a WebSocket: refused, and the ticket is not spent.
    let unspent = ticket(&me).await;
    stack
        .gateway
        .get(&format!("/v1/events?ticket={unspent}"))
        .await
        .expect_problem(426, "upgrade-required");
    let socket = try_connect(&stack, &unspent, 0).await;
    assert!(socket.is_ok(), "the ticket still works once");
    assert_eq!(
        try_connect(&stack, &unspent, 0).await.err(),
        Some(401),
        "but only once"
    );

    // An expired ticket is refused.
    let tickets = Tickets::new(testing::dynamo().await, &stack.config.table);
    let user = AuthUser {
        id: user_id,
        role: Role::Customer,
        expires_at: now_secs() + 900,
        token_version: 0,
    };
    let stale = tickets
        .issue_valid_for(&user, Duration::ZERO)
        .await
        .expect("a ticket");
    assert_eq!(try_connect(&stack, &stale, 0).await.err(), Some(401));

    // Asking for a ticket needs an access token.
    stack
        .gateway
        .post("/v1/events/ticket", json!({}))
        .await
        .expect_problem(401, "unauthorized");
}

#[tokio::test]
async fn a_socket_closes_when_its_access_token_expires_and_at_logout() {
    let stack = Stack::start().await;
    let (user_id, _) = stack.customer("ada@example.com").await;
    let (tokens, refresh) = stack.login_with_cookie("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);

    // A ticket issued against a token that expires in two seconds.
    let tickets = Tickets::new(testing::dynamo().await, &stack.config.table);
    let short = AuthUser {
        id: user_id,
        role: Role::Customer,
        expires_at: now_secs() + 2,
        token_version: 0,
    };
    let ticket_for_short = tickets.issue(&short).await.expect("a ticket");
    let mut expiring = try_connect(&stack, &ticket_for_short, 0)
        .await
        .expect("websocket");
    assert_eq!(close_code(&mut expiring).await, CLOSE_TOKEN_EXPIRED);

    let mut first = connect(&stack, &me, 0).await;
    let mut second = connect(&stack, &me, 0).await;
    stack
        .with_refresh_cookie("/v1/auth/logout", &refresh)
        .await
        .expect(204);
    assert_eq!(close_code(&mut first).await, CLOSE_LOGGED_OUT);
    assert_eq!(close_code(&mut second).await, CLOSE_LOGGED_OUT);
}

#[tokio::test]
async fn a_user_holds_a_few_sockets_at_most() {
    let stack = Stack::start().await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let mut open = Vec::new();
    for _ in 0..MAX_PER_USER {
        open.push(connect(&stack, &me, 0).await);
    }
    assert_eq!(
        try_connect(&stack, &ticket(&me).await, 0).await.err(),
        Some(429)
    );
    let (_, other) = stack.customer("bob@example.com").await;
    connect(&stack, &As::new(&stack.gateway, &other), 0).await;

    // Closing one frees its place.
    let mut closed = open.pop().expect("a socket");
    closed.close(None).await.expect("close");
    while closed.next().await.is_some() {}
    wait_for("the place to be freed", || async {
        let ticket = ticket(&me).await;
        try_connect(&stack, &ticket, 0)
            .await
            .ok()
            .map(|_| json!(null))
    })
    .await;
}
