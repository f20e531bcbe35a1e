//! The operations page: what the system does now, read when asked from sources every
//! deployment has (Temporal's visibility and task queue API, the breaker board's
//! table; no counter kept in a process), and a load generator that places orders the
//! way a checkout does, one bounded batch per request, so that nothing outlives a
//! request (a Lambda invocation).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use futures::future::join_all;
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::{Json, Query};
use utoipa::IntoParams;

use super::{ApiRoutes, Shared};
use crate::auth::Admin;
use crate::downstream::Service;
use crate::models::{FailureMode, LoadBatch, LoadBatchResult, OperationsStats, Product};
use crate::openapi::ProblemDoc;
use crate::operations::{self, LoadPlan, MAX_WINDOW_MINUTES};
use crate::orders::LOAD_PRINCIPAL;
use crate::orders::routes::{OrderRate, place};
use crate::ratelimit::Admission;

/// The most ended sagas read for one answer (visibility pages through them).
const ENDED_LIMIT: usize = 2000;
/// The running sagas whose status is asked for their retries (each a query).
const RETRY_SAMPLE: usize = 20;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(stats))
        .routes(api_routes!(load_batch))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// The minutes to chart, up to now: 1 to 60 (default 15).
    #[param(minimum = 1, maximum = 60)]
    pub minutes: Option<u32>,
}

/// The numbers of the operations page: the sagas that ended per minute by outcome with
/// their durations' p50 and p95, the retries of the running ones per step, the
/// breakers, and the task queue's backlog and pollers.
#[utoipa::path(get, path = "/v1/admin/operations", tag = "admin", security(("bearer" = [])), params(WindowParams),
    responses(
        (status = 200, description = "The numbers, as of now", body = OperationsStats),
        (status = 422, description = "`minutes` out of 1 to 60", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "Temporal or the breaker board is unavailable", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn stats(
    State(state): State<Shared>,
    _admin: Admin,
    Query(params): Query<WindowParams>,
) -> Result<Json<OperationsStats>, Problem> {
    let window = params.minutes.unwrap_or(15);
    if !(1..=MAX_WINDOW_MINUTES).contains(&window) {
        return Err(Problem::invalid(format!(
            "`minutes` is 1 to {MAX_WINDOW_MINUTES}."
        )));
    }
    let now = SystemTime::now();
    // From the start of the window's first minute.
    let since = now - Duration::from_secs(u64::from(window) * 60);
    let sagas = &state.orders.sagas;
    let (ended, running, sample, breakers, task_queue) = tokio::join!(
        sagas.ended_since(since, ENDED_LIMIT),
        sagas.running_count(),
        sagas.running_ids(RETRY_SAMPLE),
        state.breakers.current(),
        sagas.task_queue(),
    );
    let ended = ended?;
    let sample = sample?;
    // A saga that does not answer in time is left out of the retries.
    let statuses = join_all(
        sample
            .iter()
            .map(|id| async move { sagas.listed_status(id).await.ok().flatten() }),
    )
    .await;
    let statuses: Vec<_> = statuses.into_iter().flatten().collect();
    Ok(Json(OperationsStats {
        at: service_kit::clock::format_system_time(now),
        minutes: operations::minutes(&ended, now, window),
        truncated: ended.len() >= ENDED_LIMIT,
        running: running?,
        retries: operations::retries(&statuses),
        retries_sampled: statuses.len() as u32,
        breakers: breakers?,
        task_queue: task_queue?,
    }))
}

/// Places one batch of the load generator now: `orders` orders (at most 10) from
/// synthetic customers, each a checkout of one unit of `sku` with a card of the mix,
/// through the saga like a customer's. The page sends one batch a second for the
/// run's length (at most 60 s); a batch sent again places nothing new. Only where
/// failure injection is on; all runs together place at most 10 orders a second.
#[utoipa::path(post, path = "/v1/admin/operations/load", tag = "admin", security(("bearer" = [])), request_body = LoadBatch,
    responses(
        (status = 200, description = "What the batch did", body = LoadBatchResult),
        (status = 404, description = "`/problems/failure-injection-disabled`: the load generator exists only where failure injection is on", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A field out of bounds, a card that is not a test card, or an unknown product", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "`/problems/load-rate-limited`: the load generator's rate (10 orders a second, all runs together) is spent; retry after `Retry-After` seconds", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn load_batch(
    State(state): State<Shared>,
    _admin: Admin,
    Json(body): Json<LoadBatch>,
) -> Result<Json<LoadBatchResult>, Problem> {
    failure_injection_on(&state).await?;
    let plan = LoadPlan::parse(body)?;
    known_product(&state, &plan.sku).await?;
    let mut admitted = 0;
    let mut retry_after_ms = None;
    for _ in &plan.orders {
        match state.orders.load_limiter.decide(LOAD_PRINCIPAL).await {
            Admission::Allowed { .. } => admitted += 1,
            Admission::Limited { retry_after_ms: ms } => {
                retry_after_ms = Some(ms);
                break;
            }
        }
    }
    if admitted == 0 {
        let seconds = retry_after_ms.unwrap_or(1000).div_ceil(1000).max(1);
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "load-rate-limited",
            "Load generator at its rate",
        )
        .with_detail(format!(
            "The load generator places at most {} orders a second, all runs together. Retry in {seconds} s.",
            operations::MAX_BATCH_ORDERS
        ))
        .with_retry_after(seconds));
    }
    let placing = plan.orders.iter().take(admitted).map(|order| {
        let quantities = BTreeMap::from([(plan.sku.clone(), 1)]);
        place(
            &state,
            &order.customer_id,
            &order.key,
            quantities,
            order.card.clone(),
            OrderRate::Exempt,
        )
    });
    let mut result = LoadBatchResult {
        rate_limited: (plan.orders.len() - admitted) as u32,
        ..LoadBatchResult::default()
    };
    for placed in join_all(placing).await {
        match placed {
            Ok((_, order_id)) => {
                result.placed += 1;
                result.order_ids.push(order_id);
            }
            Err(problem) if problem.status == StatusCode::CONFLICT.as_u16() => {
                result.refused += 1;
                if let Some(id) = problem.extensions.get("order_id").and_then(|v| v.as_str()) {
                    result.order_ids.push(id.to_owned());
                }
            }
            Err(problem) => {
                tracing::warn!(status = problem.status, r#type = %problem.type_uri, "load generator: an order failed");
                result.failed += 1;
            }
        }
    }
    Ok(Json(result))
}

/// The load generator is on exactly where the failure switchboard is (the services'
/// `FAILURE_INJECTION=enabled`): both exist to watch the system under stress, and
/// neither belongs in a deployment that has it off. The payment service's switchboard
/// answers whether it is.
async fn failure_injection_on(state: &Shared) -> Result<(), Problem> {
    match state
        .services
        .get::<FailureMode>(Service::PAYMENT, "/admin/failure-mode")
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.is_not_found() => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "failure-injection-disabled",
            "Failure injection is off",
        )
        .with_detail(
            "The load generator exists only where failure injection is on (FAILURE_INJECTION=enabled).",
        )),
        Err(error) => Err(error.into()),
    }
}

/// 422 `unknown-product` for a SKU the catalog does not have, before any order.
async fn known_product(state: &Shared, sku: &str) -> Result<(), Problem> {
    match state
        .services
        .get::<Product>(Service::INVENTORY, &format!("/products/{sku}"))
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.is_not_found() => Err(Problem::refused(
            saga_contract::Refusal::UnknownProduct,
            format!("There is no product {sku}."),
        )),
        Err(error) => Err(error.into()),
    }
}
