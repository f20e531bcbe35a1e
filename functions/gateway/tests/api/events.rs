//! End to end through the gateway: register, log in, order, and follow every event of
//! the saga over the WebSocket, then the compensation events of a declined card, then
//! a reconnect that catches up exactly.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{As, Stack};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(stack: &Stack, token: &str, after: u64) -> Socket {
    let url = format!(
        "{}/v1/events?access_token={token}&after={after}",
        stack.gateway.base_url.replace("http://", "ws://")
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    socket
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

fn steps(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "order.step")
        .map(|e| {
            format!(
                "{} {}",
                e["data"]["step"].as_str().unwrap_or("?"),
                e["data"]["status"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test]
async fn every_saga_event_arrives_over_the_websocket_in_order_and_a_reconnect_catches_up() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let token = tokens["access_token"].as_str().expect("token").to_owned();
    let me = As::new(&stack.gateway, &tokens);
    let mut socket = connect(&stack, &token, 0).await;

    me.order(
        "ws-1",
        json!([{"sku": "MUG", "quantity": 1}]),
        "card_approve",
    )
    .await
    .expect(202);
    let completed = events_until(&mut socket, "order.completed").await;
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
    .expect(202);
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

    // Reconnecting after event 3 replays exactly what came after it.
    let mut again = connect(&stack, &token, 3).await;
    let replayed = events_until(&mut again, "order.cancelled").await;
    assert_eq!(ids(&replayed), (4..=all.len() as u64).collect::<Vec<_>>());
    assert_eq!(replayed.last(), cancelled.last());
}

#[tokio::test]
async fn the_event_stream_needs_a_valid_token_and_a_websocket() {
    let stack = Stack::start().await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let url = format!(
        "{}/v1/events?access_token=forged&after=0",
        stack.gateway.base_url.replace("http://", "ws://")
    );
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    let token = tokens["access_token"].as_str().expect("token");
    stack
        .gateway
        .get(&format!("/v1/events?access_token={token}"))
        .await
        .expect_problem(426, "upgrade-required");
    stack
        .gateway
        .get("/v1/events?access_token=forged")
        .await
        .expect_problem(401, "unauthorized");
}
