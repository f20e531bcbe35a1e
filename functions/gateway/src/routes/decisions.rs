//! A customer's decisions about a running order: approve, reject, cancel. Each is sent
//! to the order's saga, which decides whether it can still take effect.

use axum::extract::State;
use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::orders::{check_owner, status_url};
use super::{Shared, path_id};
use crate::auth::AuthUser;
use crate::models::{OrderAccepted, ReasonRequest};
use crate::openapi::ProblemDoc;
use crate::saga::{SignalKind, order_closed};

pub fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(cancel))
}

/// Sends a decision to the caller's running saga.
async fn decide(
    state: &Shared,
    user: &AuthUser,
    order_id: &str,
    kind: SignalKind,
    reason: Option<String>,
) -> Result<(StatusCode, Json<OrderAccepted>), Problem> {
    let order_id = path_id(order_id, "order")?;
    check_owner(state, user, &order_id).await?;
    let reason = reason
        .map(|r| service_kit::validate::parse_text(&r, "reason", 200, false))
        .transpose()
        .map_err(Problem::invalid)?;
    if state.sagas.running_status(&order_id).await?.is_none() {
        return Err(order_closed());
    }
    state.sagas.signal(&order_id, kind, reason).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(OrderAccepted {
            status_url: status_url(&order_id),
            order_id,
        }),
    ))
}

/// Approves a large order that awaits the customer's approval.
#[utoipa::path(post, path = "/v1/orders/{order_id}/approve", tag = "orders", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")),
    responses(
        (status = 202, description = "Approval sent", body = OrderAccepted),
        (status = 404, description = "No such order of the caller's", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The order is no longer processed", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn approve(
    State(state): State<Shared>,
    user: AuthUser,
    Path(order_id): Path<String>,
) -> Result<(StatusCode, Json<OrderAccepted>), Problem> {
    decide(&state, &user, &order_id, SignalKind::Approve, None).await
}

/// Rejects a large order that awaits approval: it is cancelled.
#[utoipa::path(post, path = "/v1/orders/{order_id}/reject", tag = "orders", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")), request_body = ReasonRequest,
    responses(
        (status = 202, description = "Rejection sent", body = OrderAccepted),
        (status = 404, description = "No such order of the caller's", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The order is no longer processed", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn reject(
    State(state): State<Shared>,
    user: AuthUser,
    Path(order_id): Path<String>,
    Json(body): Json<ReasonRequest>,
) -> Result<(StatusCode, Json<OrderAccepted>), Problem> {
    decide(&state, &user, &order_id, SignalKind::Reject, body.reason).await
}

/// Cancels an order, if its payment has not been captured yet.
#[utoipa::path(post, path = "/v1/orders/{order_id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")), request_body = ReasonRequest,
    responses(
        (status = 202, description = "Cancellation sent (honoured until the charge starts)", body = OrderAccepted),
        (status = 404, description = "No such order of the caller's", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The order is no longer processed", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn cancel(
    State(state): State<Shared>,
    user: AuthUser,
    Path(order_id): Path<String>,
    Json(body): Json<ReasonRequest>,
) -> Result<(StatusCode, Json<OrderAccepted>), Problem> {
    decide(&state, &user, &order_id, SignalKind::Cancel, body.reason).await
}
