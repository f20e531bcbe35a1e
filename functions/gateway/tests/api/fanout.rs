//! The AWS side of the event streams: `gateway-fanout` pushes a new notification to
//! the user's live connections and closes those whose access token has expired, and
//! logout closes the user's connections. API Gateway's WebSocket API cannot run here
//! (LocalStack's free tier has none either): its management API is played by a small
//! recording server; the connections, the feed and the gateway are the real ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use gateway::auth::now_secs;
use gateway::config::TrustedProxies;
use gateway::downstream::Downstream;
use gateway::events::connections::Connections;
use gateway::events::fanout::{Fanout, Pusher};
use gateway::events::routes::{MAX_REPLAY, events_after};
use gateway::events::sockets::MAX_PER_USER;
use gateway::routes::notifications::feed_id;
use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::tower::ServiceExt;
use serde_json::json;
use service_kit::services::ServiceUrls;
use service_kit::testing;
use tokio::net::TcpListener;

use crate::support::{As, Options, Stack, small_limit};

/// What the management API was asked: (method, connection id, body).
type Calls = Arc<Mutex<Vec<(String, String, String)>>>;

/// A stand-in for the WebSocket API's management endpoint; its URL (with the stage).
async fn management_api() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let recorded = calls.clone();
    let app = Router::new().fallback(move |request: Request| {
        let recorded = recorded.clone();
        async move {
            let method = request.method().to_string();
            let path = request.uri().path().to_owned();
            let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let connection = path.rsplit('/').next().unwrap_or_default().to_owned();
            recorded.lock().expect("calls").push((
                method,
                connection,
                String::from_utf8_lossy(&body).into_owned(),
            ));
            StatusCode::OK
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{address}/live"), calls)
}

#[tokio::test]
async fn a_push_reaches_live_connections_and_closes_expired_ones() {
    let stack = Stack::start().await;
    let (endpoint, calls) = management_api().await;
    let dynamo = testing::dynamo().await;
    let connections = Connections::new(dynamo.clone(), &stack.config.table);
    let user = "u-fanout";
    connections
        .remember("live-1", user, now_secs() + 600)
        .await
        .expect("remember");
    connections
        .remember("expired-1", user, now_secs() - 1)
        .await
        .expect("remember");
    let notifications = testing::Api {
        base_url: stack.config.services["notification"].clone(),
        http: reqwest::Client::new(),
    };
    notifications
        .post(
            &format!("/users/{user}/notifications"),
            json!({"key": "k-1", "kind": "order.step", "title": "Create order: done"}),
        )
        .await
        .expect(201);

    let feed = feed_of(&notifications);
    let fanout = Fanout::new(
        Connections::new(dynamo, &stack.config.table),
        feed,
        Pusher::new(&endpoint).await,
    );
    fanout.fan_out(user, 1).await;

    let calls = calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls.iter().any(|(method, id, body)| method == "POST"
            && id == "live-1"
            && body.contains("Create order: done")),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|(method, id, _)| method == "DELETE" && id == "expired-1"),
        "{calls:?}"
    );
    let left: Vec<String> = connections
        .of_user(user)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, ["live-1"]);
}

#[tokio::test]
async fn logout_closes_the_users_connections_on_aws() {
    let (endpoint, calls) = management_api().await;
    let stack = Stack::start_with(Options {
        websocket_endpoint: Some(endpoint),
        ..Options::default()
    })
    .await;
    let (user_id, _) = stack.customer("ada@example.com").await;
    let (_, refresh) = stack.login_with_cookie("ada@example.com").await;
    let connections = Connections::new(testing::dynamo().await, &stack.config.table);
    for id in ["c-1", "c-2"] {
        connections
            .remember(id, &user_id, now_secs() + 600)
            .await
            .expect("remember");
    }
    stack
        .with_refresh_cookie("/v1/auth/logout", &refresh)
        .await
        .expect(204);
    let mut closed: Vec<String> = calls
        .lock()
        .expect("calls")
        .iter()
        .filter(|(method, _, _)| method == "DELETE")
        .map(|(_, id, _)| id.clone())
        .collect();
    closed.sort();
    assert_eq!(closed, ["c-1", "c-2"]);
    assert!(
        connections
            .of_user(&user_id)
            .await
            .expect("list")
            .is_empty()
    );
}

/// A client of the notification service's feed, as the fan-out has one.
fn feed_of(notifications: &testing::Api) -> Downstream {
    Downstream::new(
        &ServiceUrls::from([("notification", notifications.base_url.clone())]),
        Duration::from_secs(5),
        None,
    )
    .expect("client")
}

/// A WebSocket API event, as Lambda delivers it to the gateway function.
fn websocket_event(route: &str, connection_id: &str, body: &str) -> Request {
    let mut context = ApiGatewayWebsocketProxyRequestContext::default();
    context.route_key = Some(route.to_owned());
    context.connection_id = Some(connection_id.to_owned());
    context.domain_name = Some("127.0.0.1:9".to_owned());
    context.stage = Some("live".to_owned());
    let mut request = axum::http::Request::builder()
        .method("POST")
        .uri("/")
        .body(axum::body::Body::from(body.to_owned()))
        .expect("request");
    request
        .extensions_mut()
        .insert(RequestContext::WebSocket(context));
    request
}

#[tokio::test]
async fn catch_up_replays_are_rate_limited_like_requests() {
    let stack = Stack::start_with(small_limit(TrustedProxies::None)).await;
    let connections = Connections::new(testing::dynamo().await, &stack.config.table);
    connections
        .remember("c-1", "u-replays", now_secs() + 600)
        .await
        .expect("remember");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = gateway::router(stack.state.clone())
            .oneshot(websocket_event("$default", "c-1", r#"{"after": "0"}"#))
            .await
            .expect("an answer");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);

    // And $connect needs a ticket.
    let response = gateway::router(stack.state.clone())
        .oneshot(websocket_event("$connect", "c-2", ""))
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn connection_attempts_count_against_their_address() {
    let stack = Stack::start_with(small_limit(TrustedProxies::None)).await;
    let attempt = |source: &str| {
        let mut event = websocket_event("$connect", "c-1", "");
        if let Some(RequestContext::WebSocket(context)) = event.extensions_mut().get_mut() {
            context.identity.source_ip = Some(source.to_owned());
        }
        gateway::router(stack.state.clone()).oneshot(event)
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = attempt("198.51.100.9").await.expect("an answer");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let elsewhere = attempt("198.51.100.10").await.expect("an answer");
    assert_eq!(
        elsewhere.status(),
        StatusCode::UNAUTHORIZED,
        "another address"
    );
}

#[tokio::test]
async fn an_expired_connection_catches_up_nothing_and_is_forgotten() {
    let stack = Stack::start().await;
    let connections = Connections::new(testing::dynamo().await, &stack.config.table);
    let user = "u-expired";
    connections
        .remember("c-old", user, now_secs() - 1)
        .await
        .expect("remember");
    let response = gateway::router(stack.state.clone())
        .oneshot(websocket_event("$default", "c-old", r#"{"after": "0"}"#))
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(connections.of_user(user).await.expect("list").is_empty());
    assert_eq!(connections.user_of("c-old").await.expect("read"), None);
}

#[tokio::test]
async fn a_replay_sends_at_most_its_bound_and_goes_on_from_its_last_event() {
    let stack = Stack::start().await;
    let notifications = testing::Api {
        base_url: stack.config.services["notification"].clone(),
        http: reqwest::Client::new(),
    };
    let user = "u-long-feed";
    let total = MAX_REPLAY + 30;
    for key in 0..total {
        notifications
            .post(
                &format!("/users/{user}/notifications"),
                json!({"key": format!("k-{key}"), "kind": "order.step", "title": "A step"}),
            )
            .await
            .expect(201);
    }
    let feed = feed_of(&notifications);
    let first = events_after(&feed, user, 0).await.expect("the feed");
    assert_eq!(first.len(), MAX_REPLAY);
    let last = first.last().and_then(|event| feed_id(&event.id));
    let rest = events_after(&feed, user, last.expect("a feed position"))
        .await
        .expect("the feed");
    assert_eq!(rest.len(), total - MAX_REPLAY);
}

#[tokio::test]
async fn a_user_holds_at_most_the_cap_of_connections_even_when_they_open_at_once() {
    let stack = Stack::start().await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let connect = |connection_id: String, ticket: String| {
        let mut event = websocket_event("$connect", &connection_id, "");
        *event.uri_mut() = format!("/?ticket={ticket}").parse().expect("a URI");
        gateway::router(stack.state.clone()).oneshot(event)
    };
    let mut tickets = Vec::new();
    for _ in 0..MAX_PER_USER + 3 {
        tickets.push(crate::events::ticket(&me).await);
    }
    let attempts = tickets
        .into_iter()
        .enumerate()
        .map(|(i, ticket)| connect(format!("c-{i}"), ticket));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|response| response.expect("an answer").status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        MAX_PER_USER,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );

    // A closed connection frees its place.
    let open = statuses.iter().position(|s| *s == 200).expect("one open");
    let closed = gateway::router(stack.state.clone())
        .oneshot(websocket_event("$disconnect", &format!("c-{open}"), ""))
        .await
        .expect("an answer");
    assert_eq!(closed.status(), StatusCode::OK);
    let again = connect("c-again".into(), crate::events::ticket(&me).await)
        .await
        .expect("an answer");
    assert_eq!(again.status(), StatusCode::OK);
    let full = connect("c-full".into(), crate::events::ticket(&me).await)
        .await
        .expect("an answer");
    assert_eq!(full.status(), StatusCode::TOO_MANY_REQUESTS);
}
