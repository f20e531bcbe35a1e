//! Real-time events. Every saga event is a notification in the user's feed, numbered
//! without gaps, so a client that saw event N catches up with "everything after N",
//! with no gap and no duplicate, whatever happened to its connection.
//!
//! - Locally (and wherever the gateway runs as a server), `GET /v1/events` upgrades to a
//!   WebSocket that follows the caller's feed.
//! - On AWS, an API Gateway WebSocket API holds the connections and invokes this same
//!   function for `$connect` (token check, connection stored), `$disconnect` and
//!   `$default` (catch up after a given id); new notifications are pushed with
//!   PostToConnection by the `gateway-fanout` function (see [`crate::fanout`]).

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::Query;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Shared;
use super::notifications::feed_id;
use crate::AppState;
use crate::auth::{AuthUser, now_secs};
use crate::downstream::Service;
use crate::models::NotificationPage;
use crate::openapi::ProblemDoc;

/// WebSocket close code: the access token expired; reconnect with a fresh one.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4401;

pub fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// The access token (browsers cannot set headers on a WebSocket).
    pub access_token: String,
    /// The last event id the client saw; events after it are sent first. Without it,
    /// only new events are sent.
    pub after: Option<String>,
}

/// The caller's events as a WebSocket: each message is a notification (`id`, `kind`,
/// `title`, `order_id`, `data`...), in feed order. The server closes with code 4401
/// when the access token expires.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "No valid access token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket request", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn events(
    State(state): State<Shared>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    Query(params): Query<EventParams>,
) -> Result<Response, Problem> {
    let user = state.tokens.verify(&params.access_token).await?;
    let upgrade = upgrade.map_err(|_| {
        Problem::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade-required",
            "Upgrade required",
        )
        .with_detail("Connect with the WebSocket protocol.")
    })?;
    let after = match params.after.as_deref() {
        Some(raw) => feed_id(raw)
            .ok_or_else(|| Problem::bad_request("`after` must be a notification id."))?,
        None => latest_id(&state, &user.id).await?,
    };
    Ok(upgrade.on_upgrade(move |socket| follow(state, user, after, socket)))
}

async fn latest_id(state: &Shared, user_id: &str) -> Result<u64, Problem> {
    let page: NotificationPage = state
        .services
        .get(
            Service::Notification,
            &format!("/users/{user_id}/notifications?limit=1"),
        )
        .await?;
    Ok(feed_id(&page.latest_id).unwrap_or_default())
}

/// The notifications of `user_id` after `after`, all of them, in order.
pub async fn events_after(
    state: &AppState,
    user_id: &str,
    mut after: u64,
) -> Result<Vec<serde_json::Value>, Problem> {
    let mut events = Vec::new();
    loop {
        let path = format!("/users/{user_id}/notifications?after={after}&limit=100");
        let page: NotificationPage = state.services.get(Service::Notification, &path).await?;
        for notification in page.items {
            after = feed_id(&notification.id).unwrap_or(after);
            events.push(serde_json::to_value(notification).unwrap_or_default());
        }
        if page.next_after.is_none() {
            return Ok(events);
        }
    }
}

/// Follows the user's feed until the client leaves or the token expires.
async fn follow(state: Shared, user: AuthUser, mut after: u64, mut socket: WebSocket) {
    let mut poll = tokio::time::interval(state.config.event_poll_interval);
    let expiry = tokio::time::sleep(Duration::from_secs(
        user.expires_at.saturating_sub(now_secs()),
    ));
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            _ = poll.tick() => {
                let events = match events_after(&state, &user.id, after).await {
                    Ok(events) => events,
                    // The feed is unavailable for now: try again at the next tick.
                    Err(_) => continue,
                };
                for event in events {
                    if let Some(id) = event["id"].as_str().and_then(feed_id) {
                        after = id;
                    }
                    if socket.send(Message::Text(Utf8Bytes::from(event.to_string()))).await.is_err() {
                        return;
                    }
                }
            }
            message = socket.recv() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = &mut expiry => {
                let frame = CloseFrame { code: CLOSE_TOKEN_EXPIRED, reason: Utf8Bytes::from_static("token expired") };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
        }
    }
}

/// Handles the events of an API Gateway WebSocket API, which Lambda delivers to this
/// same function: every other request passes through.
pub async fn aws_websocket(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let Some(lambda_http::request::RequestContext::WebSocket(context)) = request
        .extensions()
        .get::<lambda_http::request::RequestContext>()
        .cloned()
    else {
        return next.run(request).await;
    };
    let connection_id = context.connection_id.clone().unwrap_or_default();
    let query = request.uri().query().map(str::to_owned);
    let outcome = match context.route_key.as_deref() {
        Some("$connect") => connect(&state, query.as_deref(), &connection_id).await,
        Some("$disconnect") => state
            .connections
            .forget(&connection_id)
            .await
            .map_err(Problem::from),
        _ => catch_up(&state, request, &context, &connection_id).await,
    };
    match outcome {
        Ok(()) => StatusCode::OK.into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn connect(state: &Shared, query: Option<&str>, connection_id: &str) -> Result<(), Problem> {
    let token = query
        .and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("access_token="))
        })
        .ok_or_else(|| crate::auth::unauthorized("Connect with `?access_token=<token>`."))?;
    let user = state.tokens.verify(token).await?;
    state
        .connections
        .remember(connection_id, &user.id, user.expires_at)
        .await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
struct CatchUp {
    after: String,
}

/// `{"after": "<id>"}` sent on the socket: the events since then are pushed back.
async fn catch_up(
    state: &Shared,
    request: Request,
    context: &lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequestContext,
    connection_id: &str,
) -> Result<(), Problem> {
    let user_id = state
        .connections
        .user_of(connection_id)
        .await?
        .ok_or_else(|| crate::auth::unauthorized("Unknown connection."))?;
    let body = axum::body::to_bytes(request.into_body(), 4096)
        .await
        .map_err(|_| Problem::bad_request("Send {\"after\": \"<id>\"}."))?;
    let after = serde_json::from_slice::<CatchUp>(&body)
        .ok()
        .and_then(|c| feed_id(&c.after))
        .ok_or_else(|| Problem::bad_request("Send {\"after\": \"<id>\"}."))?;
    let endpoint = format!(
        "https://{}/{}",
        context.domain_name.as_deref().unwrap_or_default(),
        context.stage.as_deref().unwrap_or_default()
    );
    let pusher = crate::fanout::Pusher::new(&endpoint).await;
    for event in events_after(state, &user_id, after).await? {
        pusher.push(connection_id, &event).await;
    }
    Ok(())
}
