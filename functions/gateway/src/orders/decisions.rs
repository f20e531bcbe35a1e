//! Decisions about a running order, each sent to its saga as the `decide` Update and
//! answered synchronously: the customer cancels; a reviewer (the `admin` role) approves
//! or rejects a large order, never their own. A decision that can no longer take
//! effect is refused by the saga with its reason (409). The review queue lists the
//! orders awaiting review, from Temporal's visibility.

use axum::extract::State;
use axum::http::StatusCode;
use futures::future::try_join_all;
use saga_contract::{Decider, DeciderRole, DecisionAction, OrderDecision, SagaPhase, SagaStatus};
use service_kit::Problem;
use service_kit::extract::{Json, Path};

use super::routes::check_owner;
use crate::auth::{Admin, AuthUser, Role};
use crate::downstream::Service;
use crate::models::{Order, ReasonRequest, ReviewItem, ReviewQueue};
use crate::openapi::ProblemDoc;
use crate::orders::saga::order_closed;
use crate::routes::{ApiRoutes, Shared, path_id};

/// The most orders the review queue shows at once.
const REVIEW_QUEUE_LIMIT: usize = 50;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(cancel))
        .routes(api_routes!(review_queue))
        .routes(api_routes!(approve))
        .routes(api_routes!(reject))
}

fn reason(request: ReasonRequest) -> Result<Option<String>, Problem> {
    request
        .reason
        .map(|r| service_kit::validate::parse_text(&r, "reason", 200, false))
        .transpose()
        .map_err(Problem::invalid)
}

/// The authenticated user a decision is sent for: the saga records who decided, and
/// refuses a review by the order's own customer itself.
fn decider(user: &AuthUser) -> Decider {
    Decider {
        id: user.id.clone(),
        role: match user.role {
            Role::Customer => DeciderRole::Customer,
            Role::Admin => DeciderRole::Admin,
        },
    }
}

/// Cancels the caller's order, if its payment has not started: the saga stops at its
/// next step and compensates.
#[utoipa::path(post, path = "/v1/orders/{order_id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")), request_body = ReasonRequest,
    responses(
        (status = 200, description = "Accepted: the saga's status, the cancellation requested", body = SagaStatus),
        (status = 404, description = "No such order of the caller's", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Refused, with the reason: the payment is already being captured, the order is no longer processed...", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn cancel(
    State(state): State<Shared>,
    user: AuthUser,
    Path(order_id): Path<String>,
    Json(body): Json<ReasonRequest>,
) -> Result<Json<SagaStatus>, Problem> {
    let order_id = path_id(&order_id, "order")?;
    check_owner(&state, &user, &order_id).await?;
    let decision = OrderDecision {
        action: DecisionAction::Cancel,
        reason: reason(body)?,
        decided_by: Some(decider(&user)),
    };
    Ok(Json(state.orders.sagas.decide(&order_id, decision).await?))
}

/// The orders awaiting review, the soonest deadline first.
#[utoipa::path(get, path = "/v1/admin/reviews", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The review queue", body = ReviewQueue)))]
async fn review_queue(
    State(state): State<Shared>,
    _reviewer: Admin,
) -> Result<Json<ReviewQueue>, Problem> {
    let ids = state
        .orders
        .sagas
        .awaiting_review(REVIEW_QUEUE_LIMIT)
        .await?;
    let items = try_join_all(ids.iter().map(|id| review_item(&state, id))).await?;
    let mut items: Vec<ReviewItem> = items.into_iter().flatten().collect();
    items.sort_by(|a, b| a.deadline.cmp(&b.deadline));
    Ok(Json(ReviewQueue { items }))
}

/// The order `order_id` as the queue shows it; `None` if it is no longer awaiting
/// review (decided, or its order not yet readable) by the time it is read.
async fn review_item(state: &Shared, order_id: &str) -> Result<Option<ReviewItem>, Problem> {
    let path = format!("/orders/{order_id}");
    let (order, saga) = tokio::join!(
        state.services.get::<Order>(Service::ORDER, &path),
        state.orders.sagas.running_status(order_id),
    );
    let order = match order {
        Ok(order) => order,
        Err(error) if error.is_not_found() => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    Ok(saga?
        .filter(|saga| saga.phase == SagaPhase::AwaitingApproval)
        .and_then(|saga| saga.approval_deadline)
        .map(|deadline| ReviewItem {
            order_id: order.order_id,
            customer_id: order.customer_id,
            lines: order.lines,
            total: order.total,
            currency: order.currency,
            deadline,
        }))
}

/// Sends a reviewer's decision, unless the order is the reviewer's own (checked here
/// for a clear 403; the saga's validator refuses it too).
async fn review(
    state: &Shared,
    reviewer: &AuthUser,
    order_id: &str,
    decision: OrderDecision,
) -> Result<Json<SagaStatus>, Problem> {
    let order_id = path_id(order_id, "order")?;
    let saga = state
        .orders
        .sagas
        .running_status(&order_id)
        .await?
        .ok_or_else(order_closed)?;
    if saga.customer_id == reviewer.id {
        return Err(
            Problem::new(StatusCode::FORBIDDEN, "own-order", "Your own order")
                .with_detail("Another reviewer must decide on an order you placed."),
        );
    }
    Ok(Json(state.orders.sagas.decide(&order_id, decision).await?))
}

/// Approves an order awaiting review: it goes on to the payment.
#[utoipa::path(post, path = "/v1/admin/reviews/{order_id}/approve", tag = "admin", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "Approved: the saga's status", body = SagaStatus),
        (status = 404, description = "No such order", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Refused, with the reason: the order is not awaiting review, has already been reviewed...", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn approve(
    State(state): State<Shared>,
    Admin(reviewer): Admin,
    Path(order_id): Path<String>,
) -> Result<Json<SagaStatus>, Problem> {
    let decision = OrderDecision {
        action: DecisionAction::Approve,
        reason: None,
        decided_by: Some(decider(&reviewer)),
    };
    review(&state, &reviewer, &order_id, decision).await
}

/// Rejects an order awaiting review, with a reason: it is cancelled.
#[utoipa::path(post, path = "/v1/admin/reviews/{order_id}/reject", tag = "admin", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")), request_body = ReasonRequest,
    responses(
        (status = 200, description = "Rejected: the saga's status", body = SagaStatus),
        (status = 404, description = "No such order", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Refused, with the reason: the order is not awaiting review, has already been reviewed...", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn reject(
    State(state): State<Shared>,
    Admin(reviewer): Admin,
    Path(order_id): Path<String>,
    Json(body): Json<ReasonRequest>,
) -> Result<Json<SagaStatus>, Problem> {
    let decision = OrderDecision {
        action: DecisionAction::Reject,
        reason: reason(body)?,
        decided_by: Some(decider(&reviewer)),
    };
    review(&state, &reviewer, &order_id, decision).await
}
