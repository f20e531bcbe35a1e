//! Sagas that need an operator: listed from Temporal's visibility (the `SagaAttention`
//! search attribute) with the step, its last error, its attempts and since when; an
//! admin may retry a stuck one now (the saga's `retry_now` update).

use axum::extract::State;
use futures::future::join_all;
use saga_contract::{AttentionReason, SagaStatus};
use service_kit::Problem;
use service_kit::extract::{Json, Path};

use super::{ApiRoutes, Shared, path_id};
use crate::auth::Admin;
use crate::models::{AttentionItem, AttentionList};
use crate::openapi::ProblemDoc;

/// The most sagas the list shows at once.
const ATTENTION_LIMIT: usize = 50;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(attention))
        .routes(api_routes!(retry_now))
}

/// The running sagas that need an operator, the longest-stuck first.
#[utoipa::path(get, path = "/v1/admin/attention", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The sagas that need attention", body = AttentionList)))]
async fn attention(
    State(state): State<Shared>,
    _admin: Admin,
) -> Result<Json<AttentionList>, Problem> {
    let ids = state
        .orders
        .sagas
        .needing_attention(ATTENTION_LIMIT)
        .await?;
    let items = join_all(ids.into_iter().map(|id| async {
        match state.orders.sagas.listed_status(&id).await {
            Ok(Some(status)) => item(status),
            // Ended meanwhile.
            Ok(None) => None,
            // A saga that cannot answer needs attention all the more: it is listed
            // with what visibility knows.
            Err(_) => Some(AttentionItem::unreadable(id)),
        }
    }))
    .await;
    let mut items: Vec<AttentionItem> = items.into_iter().flatten().collect();
    items.sort_by(|a, b| a.since.cmp(&b.since));
    Ok(Json(AttentionList { items }))
}

/// The list's entry for a saga, if it still needs attention when it is read.
fn item(status: SagaStatus) -> Option<AttentionItem> {
    let attention = status.attention?;
    let step = status.steps.iter().find(|s| s.name == attention.step)?;
    Some(AttentionItem {
        order_id: status.order_id,
        customer_id: Some(status.customer_id),
        reason: attention.reason,
        step: Some(attention.step),
        last_error: step.last_error.clone(),
        attempts: Some(step.attempts),
        since: Some(attention.since),
    })
}

impl AttentionItem {
    fn unreadable(order_id: String) -> Self {
        Self {
            order_id,
            customer_id: None,
            reason: AttentionReason::CompensationStuck,
            step: None,
            last_error: Some("The saga does not answer: its workflow tasks may be failing (see the worker's log).".to_owned()),
            attempts: None,
            since: None,
        }
    }
}

/// Retries a stuck saga's step now: the worker's breaker for its service is reset first.
#[utoipa::path(post, path = "/v1/admin/attention/{order_id}/retry", tag = "admin", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "Retrying: the saga's status", body = SagaStatus),
        (status = 404, description = "No such order", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to retry (the saga is not stuck), or the saga has ended", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn retry_now(
    State(state): State<Shared>,
    _admin: Admin,
    Path(order_id): Path<String>,
) -> Result<Json<SagaStatus>, Problem> {
    let order_id = path_id(&order_id, "order")?;
    Ok(Json(state.orders.sagas.retry_now(&order_id).await?))
}
