//! Real-time events. Every saga event is a notification in the user's feed, numbered
//! without gaps, so a client that saw event N catches up with "everything after N",
//! with no gap and no duplicate, whatever happened to its connection.
//!
//! A socket is opened with a ticket (`POST /v1/events/ticket`, see [`crate::auth::tickets`]),
//! never with the access token, which would end up in URL logs. It lives until the
//! access token the ticket was issued against expires, or the user logs out.
//!
//! - Locally (and wherever the gateway runs as a server), `GET /v1/events` upgrades to a
//!   WebSocket that follows the caller's feed; a user may hold a few at once.
//! - On AWS, an API Gateway WebSocket API holds the connections and invokes this same
//!   function for `$connect` (ticket check, connection stored), `$disconnect` and
//!   `$default` (catch up after a given id, rate-limited like any request); new
//!   notifications are pushed with PostToConnection by the `gateway-fanout` function
//!   (see [`crate::events::fanout`]), which closes connections whose token has expired.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::{Json, Query};
use utoipa::IntoParams;

use crate::auth::tickets::{Admitted, TICKET_TTL};
use crate::auth::{AuthUser, now_secs};
use crate::downstream::{Downstream, Service};
use crate::events::connections::Remembered;
use crate::events::sockets::{Lease, MAX_PER_USER};
use crate::models::{EventTicket, Notification, NotificationPage};
use crate::openapi::ProblemDoc;
use crate::ratelimit::Admission;
use crate::routes::notifications::feed_id;
use crate::routes::{ApiRoutes, Shared};

/// WebSocket close code: the access token the socket was opened for expired; open a
/// new one with a fresh ticket.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4401;
/// WebSocket close code: the user logged out.
pub const CLOSE_LOGGED_OUT: u16 = 4403;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(events))
        .routes(api_routes!(ticket))
}

/// A single-use ticket for opening the caller's event stream within 30 seconds.
#[utoipa::path(post, path = "/v1/events/ticket", tag = "events", security(("bearer" = [])),
    responses(
        (status = 201, description = "A ticket", body = EventTicket),
        (status = 401, description = "No valid access token", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn ticket(
    State(state): State<Shared>,
    user: AuthUser,
) -> Result<(StatusCode, Json<EventTicket>), Problem> {
    let ticket = state.auth.tickets.issue(&user).await?;
    Ok((
        StatusCode::CREATED,
        Json(EventTicket {
            ticket,
            expires_in: TICKET_TTL.as_secs(),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// A ticket from `POST /v1/events/ticket` (it works once).
    pub ticket: String,
    /// The last event id the client saw; events after it are sent first. Without it,
    /// only new events are sent.
    #[param(pattern = r"^(0|[1-9][0-9]{0,18})$")]
    pub after: Option<String>,
}

/// The caller's events as a WebSocket: each message is a notification (`id`, `kind`,
/// `title`, `order_id`, `data`...), in feed order. The server closes with code 4401
/// when the access token the ticket was issued against expires, and with 4403 when
/// the user logs out.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "No valid ticket", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The user has too many sockets open", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn events(
    State(state): State<Shared>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    Query(params): Query<EventParams>,
) -> Result<Response, Problem> {
    // Checked first, so that a request that is no WebSocket does not spend its ticket.
    let upgrade = upgrade.map_err(|_| {
        Problem::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade-required",
            "Upgrade required",
        )
        .with_detail("Connect with the WebSocket protocol.")
    })?;
    let admitted = admit(&state, &params.ticket).await?;
    let after = match params.after.as_deref() {
        Some(raw) => feed_id(raw)
            .ok_or_else(|| Problem::bad_request("`after` must be a notification id."))?,
        None => latest_id(&state, &admitted.user_id).await?,
    };
    let lease = state
        .events
        .sockets
        .open(&admitted.user_id)
        .ok_or_else(too_many_sockets)?;
    Ok(upgrade.on_upgrade(move |socket| follow(state, admitted, lease, after, socket)))
}

/// 429 for a user who has [`MAX_PER_USER`] event streams open already.
fn too_many_sockets() -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-sockets",
        "Too many event streams",
    )
    .with_detail(format!(
        "At most {MAX_PER_USER} event streams may be open at once; close one first."
    ))
}

/// The user a ticket admits, or 401.
async fn admit(state: &Shared, ticket: &str) -> Result<Admitted, Problem> {
    match state.auth.tickets.admit(ticket).await? {
        Some(admitted) if admitted.session_expires_at > now_secs() => Ok(admitted),
        _ => Err(crate::auth::unauthorized(
            "The ticket is unknown, used or expired. Get a new one from POST /v1/events/ticket.",
        )),
    }
}

async fn latest_id(state: &Shared, user_id: &str) -> Result<u64, Problem> {
    let page: NotificationPage = state
        .services
        .get(
            Service::NOTIFICATION,
            &format!("/users/{user_id}/notifications?limit=1"),
        )
        .await?;
    Ok(feed_id(&page.latest_id).unwrap_or_default())
}

/// The most events one replay sends: a client that asks from the start of a long feed
/// gets the first of them, and asks again after the last one it got.
pub const MAX_REPLAY: usize = 200;

/// The notifications of `user_id` after `after`, in order, at most [`MAX_REPLAY`].
pub async fn events_after(
    services: &Downstream,
    user_id: &str,
    mut after: u64,
) -> Result<Vec<Notification>, Problem> {
    let mut events = Vec::new();
    loop {
        let limit = (MAX_REPLAY - events.len()).min(100);
        let path = format!("/users/{user_id}/notifications?after={after}&limit={limit}");
        let page: NotificationPage = services.get(Service::NOTIFICATION, &path).await?;
        for notification in page.items {
            after = feed_id(&notification.id).unwrap_or(after);
            events.push(notification);
        }
        if page.next_after.is_none() || events.len() >= MAX_REPLAY {
            return Ok(events);
        }
    }
}

/// Follows the user's feed until the client leaves, the session expires or the user
/// logs out.
async fn follow(
    state: Shared,
    admitted: Admitted,
    mut lease: Lease,
    mut after: u64,
    mut socket: WebSocket,
) {
    let mut poll = tokio::time::interval(state.config.event_poll_interval);
    let expiry = tokio::time::sleep(Duration::from_secs(
        admitted.session_expires_at.saturating_sub(now_secs()),
    ));
    tokio::pin!(expiry);
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }))
    };
    loop {
        tokio::select! {
            _ = poll.tick() => {
                let events = match events_after(&state.services, &admitted.user_id, after).await {
                    Ok(events) => events,
                    // The feed is unavailable for now: try again at the next tick.
                    Err(_) => continue,
                };
                for event in events {
                    after = feed_id(&event.id).unwrap_or(after);
                    let Ok(text) = serde_json::to_string(&event) else { continue };
                    if socket.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                        return;
                    }
                }
            }
            message = socket.recv() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = &mut expiry => {
                let _ = socket.send(close(CLOSE_TOKEN_EXPIRED, "token expired")).await;
                return;
            }
            _ = lease.logged_out() => {
                let _ = socket.send(close(CLOSE_LOGGED_OUT, "logged out")).await;
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
        Some("$connect") => {
            // Anyone may try to connect: each attempt counts against its address.
            let address = state.limiter.address_of(&request);
            if let Some(limited) = state.limiter.limit_address(&address).await {
                return limited;
            }
            connect(&state, query.as_deref(), &connection_id).await
        }
        Some("$disconnect") => state
            .events
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
    let ticket = query
        .and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("ticket="))
        })
        .ok_or_else(|| crate::auth::unauthorized("Connect with `?ticket=<ticket>`."))?;
    let admitted = admit(state, ticket).await?;
    let remembered = state
        .events
        .connections
        .remember(
            connection_id,
            &admitted.user_id,
            admitted.session_expires_at,
        )
        .await?;
    match remembered {
        Remembered::Stored => Ok(()),
        Remembered::Full => Err(too_many_sockets()),
    }
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
    let endpoint = format!(
        "https://{}/{}",
        context.domain_name.as_deref().unwrap_or_default(),
        context.stage.as_deref().unwrap_or_default()
    );
    let (user_id, expires_at) = state
        .events
        .connections
        .owner_of(connection_id)
        .await?
        .ok_or_else(|| crate::auth::unauthorized("Unknown connection."))?;
    // The token that opened the connection has expired: it reads nothing more, and is
    // closed (the client reconnects with a fresh ticket).
    if expires_at <= now_secs() {
        state.events.connections.forget(connection_id).await?;
        crate::events::fanout::Pusher::new(&endpoint)
            .await
            .disconnect(connection_id)
            .await;
        return Err(crate::auth::unauthorized(
            "The session of this connection has expired. Reconnect.",
        ));
    }
    // A replay costs a feed read per message: limited like any request of the user.
    if let Admission::Limited { retry_after_ms } =
        state.limiter.decide(&format!("user:{user_id}")).await
    {
        return Err(crate::ratelimit::rate_limited(retry_after_ms));
    }
    let body = axum::body::to_bytes(request.into_body(), 4096)
        .await
        .map_err(|_| Problem::bad_request("Send {\"after\": \"<id>\"}."))?;
    let after = serde_json::from_slice::<CatchUp>(&body)
        .ok()
        .and_then(|c| feed_id(&c.after))
        .ok_or_else(|| Problem::bad_request("Send {\"after\": \"<id>\"}."))?;
    let pusher = crate::events::fanout::Pusher::new(&endpoint).await;
    for event in events_after(&state.services, &user_id, after).await? {
        if let Ok(text) = serde_json::to_string(&event) {
            pusher.push(connection_id, &text).await;
        }
    }
    Ok(())
}
