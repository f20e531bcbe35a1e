//! The saga's activities: one call each to one service's HTTP API, never to another
//! service's table. Every one is safe to run again: the services key every mutation by
//! the order id (or the notification's key) and answer a repeat with the same result.
//!
//! How failures reach Temporal:
//! - a business refusal (a [`saga_contract::Refusal`]: out of stock,
//!   declined, invalid...): non-retryable, typed with the problem's slug, since asking
//!   again gets the same answer;
//! - any other answer (401/403 from IAM, a bare 404, 5xx...), no answer, a timeout:
//!   retryable, by the step's retry policy;
//! - circuit open: retryable, with `next_retry_delay` set to the end of the cool-down.
//!
//! Each failed attempt of a step's activity is also reported to the workflow with the
//! `attempt_failed` signal, so the saga's timeline shows retries and their errors live.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use saga_contract::calls::{
    ChangeStatusBody, ChargeBody, CreateOrderBody, CreatedOrder, OrderStatus,
    RecordNotificationBody, ReserveStockBody, StockLine,
};
use saga_contract::{OrderLine, SagaInput};
use serde::Serialize;
use temporalio_client::WorkflowSignalOptions;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::metrics::{AttemptResult, SagaMetrics};
use crate::payloads::{
    Attempt, AttemptFailedSignal, AttemptFailure, CancelRequest, ChargeRequest, CommitRequest,
    FailureDetails, NotificationRequest, ReserveRequest, StatusRequest,
};
use crate::services::{CallError, ServiceClient, Written};

/// The clients the activities call through, one per service, each with its breaker.
pub struct SagaActivities {
    inventory: ServiceClient,
    order: ServiceClient,
    payment: ServiceClient,
    notification: ServiceClient,
    /// Every client, the ones above included: an operator may reset any breaker.
    clients: BTreeMap<&'static str, ServiceClient>,
    metrics: SagaMetrics,
}

impl SagaActivities {
    /// The activities over `clients`, one per service the worker is configured to call
    /// (`infra/services.json`). Fails at the worker's start if a service the saga calls
    /// is not among them.
    pub fn new(
        clients: BTreeMap<&'static str, ServiceClient>,
        metrics: SagaMetrics,
    ) -> Result<Self, String> {
        let client = |service: &str| {
            clients.get(service).cloned().ok_or_else(|| {
                format!(
                    "the saga calls the {service} service; \
                     infra/services.json does not declare it as called by the worker"
                )
            })
        };
        Ok(Self {
            inventory: client("inventory")?,
            order: client("order")?,
            payment: client("payment")?,
            notification: client("notification")?,
            clients,
            metrics,
        })
    }
}

#[activities]
impl SagaActivities {
    #[activity(name = "create_order")]
    pub async fn create_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SagaInput,
    ) -> Result<Attempt, ActivityError> {
        let body = CreateOrderBody {
            customer_id: input.customer_id,
            lines: input.lines,
            currency: input.currency,
        };
        let result = self
            .order
            .put_for::<CreatedOrder>(&format!("/orders/{}", input.order_id), &body)
            .await;
        if let Ok((_, Written::New)) = &result {
            self.metrics.saga_started(&ctx.info().task_queue);
        }
        let created = result.as_ref().ok().map(|(created, _)| created);
        let open_elsewhere = created.map(|created| created.open_elsewhere);
        let paid_before = created.is_some_and(|created| {
            matches!(
                created.order.status,
                OrderStatus::Paid | OrderStatus::Completed
            )
        });
        let attempt = self.finish(&ctx, result, true).await?;
        Ok(Attempt {
            open_elsewhere,
            paid_before,
            ..attempt
        })
    }

    #[activity(name = "reserve_inventory")]
    pub async fn reserve_inventory(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: ReserveRequest,
    ) -> Result<Attempt, ActivityError> {
        let body = ReserveStockBody {
            lines: stock_lines(request.lines),
        };
        let result = self
            .inventory
            .put(&format!("/reservations/{}", request.order_id), &body)
            .await;
        self.finish(&ctx, result, true).await
    }

    #[activity(name = "set_order_status")]
    pub async fn set_order_status(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: StatusRequest,
    ) -> Result<Attempt, ActivityError> {
        let body = ChangeStatusBody {
            status: request.status,
            reason: None,
            via: request.via,
        };
        let path = format!("/orders/{}/status", request.order_id);
        self.post(&ctx, &self.order, &path, Some(&body)).await
    }

    #[activity(name = "charge_payment")]
    pub async fn charge_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: ChargeRequest,
    ) -> Result<Attempt, ActivityError> {
        let body = ChargeBody {
            amount: request.amount,
            currency: request.currency,
            method: request.method,
        };
        let path = format!("/payments/{}/charge", request.order_id);
        self.post(&ctx, &self.payment, &path, Some(&body)).await
    }

    /// Sagas started before local steps: the service reads the reservation first.
    #[activity(name = "commit_inventory")]
    pub async fn commit_inventory(
        self: Arc<Self>,
        ctx: ActivityContext,
        order_id: String,
    ) -> Result<Attempt, ActivityError> {
        let path = format!("/reservations/{order_id}/commit");
        self.post(&ctx, &self.inventory, &path, NO_BODY).await
    }

    /// Commits the reservation in one write: it names the lines it holds.
    #[activity(name = "commit_reservation")]
    pub async fn commit_reservation(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: CommitRequest,
    ) -> Result<Attempt, ActivityError> {
        let body = ReserveStockBody {
            lines: stock_lines(request.lines),
        };
        let path = format!("/reservations/{}/commit", request.order_id);
        self.post(&ctx, &self.inventory, &path, Some(&body)).await
    }

    /// Refunds whatever was captured; safe when nothing was (the refund is zero and
    /// closes the order to a charge that might still be in flight).
    #[activity(name = "refund_payment")]
    pub async fn refund_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        order_id: String,
    ) -> Result<Attempt, ActivityError> {
        let path = format!("/payments/{order_id}/refund");
        self.post(&ctx, &self.payment, &path, NO_BODY).await
    }

    /// Puts the stock back; safe when nothing was reserved (the order is then closed
    /// to a reservation that might still be in flight).
    #[activity(name = "release_inventory")]
    pub async fn release_inventory(
        self: Arc<Self>,
        ctx: ActivityContext,
        order_id: String,
    ) -> Result<Attempt, ActivityError> {
        let path = format!("/reservations/{order_id}/release");
        self.post(&ctx, &self.inventory, &path, NO_BODY).await
    }

    /// Cancels the order with the reason. An order that was never created has nothing
    /// to cancel.
    #[activity(name = "cancel_order")]
    pub async fn cancel_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: CancelRequest,
    ) -> Result<Attempt, ActivityError> {
        let body = ChangeStatusBody {
            status: OrderStatus::Cancelled,
            reason: Some(request.reason),
            via: Vec::new(),
        };
        let result = match self
            .order
            .post(&format!("/orders/{}/status", request.order_id), Some(&body))
            .await
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        };
        self.finish(&ctx, result, true).await
    }

    /// An operator's "retry now": closes this worker's breaker for `service`, so that
    /// the retry that follows is sent. (Other workers keep theirs; a stuck step is
    /// retried on this one first.)
    #[activity(name = "reset_breaker")]
    pub async fn reset_breaker(
        self: Arc<Self>,
        _ctx: ActivityContext,
        service: String,
    ) -> Result<(), ActivityError> {
        if let Some(client) = self.clients.get(service.as_str()) {
            client.breaker().reset();
        }
        Ok(())
    }

    #[activity(name = "record_notification")]
    pub async fn record_notification(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: NotificationRequest,
    ) -> Result<Attempt, ActivityError> {
        let body = RecordNotificationBody {
            key: request.key,
            kind: request.kind,
            title: request.title,
            body: request.body,
            order_id: request.order_id,
            data: request.data,
        };
        let result = self
            .notification
            .post_for_status(
                &format!("/users/{}/notifications", request.user_id),
                Some(&body),
            )
            .await;
        if let Ok(Written::New) = result {
            self.metrics
                .notification_recorded(&ctx.info().task_queue, request.kind);
        }
        // Notifications are the saga's own reporting: their failures are not reported.
        self.finish(&ctx, result, false).await
    }
}

/// Commands whose path says it all send no body.
const NO_BODY: Option<&()> = None;

fn stock_lines(lines: Vec<OrderLine>) -> Vec<StockLine> {
    lines
        .into_iter()
        .map(|line| StockLine {
            sku: line.sku,
            quantity: line.quantity,
        })
        .collect()
}

/// The plumbing every activity shares.
impl SagaActivities {
    /// A POST whose answer matters only as success or failure, every failed attempt
    /// reported.
    async fn post(
        &self,
        ctx: &ActivityContext,
        client: &ServiceClient,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Attempt, ActivityError> {
        let result = client.post(path, body).await;
        self.finish(ctx, result, true).await
    }

    /// Turns a call's outcome into the activity's, reporting a failed attempt to the
    /// workflow when `report` is set.
    async fn finish<T>(
        &self,
        ctx: &ActivityContext,
        result: Result<T, CallError>,
        report: bool,
    ) -> Result<Attempt, ActivityError> {
        let info = ctx.info();
        let attempt = info.attempt;
        let outcome = match &result {
            Ok(_) => AttemptResult::Succeeded,
            Err(CallError::Refused { .. }) => AttemptResult::Refused,
            Err(_) => AttemptResult::Failed,
        };
        self.metrics.attempt(
            &info.task_queue,
            &info.activity_type,
            outcome,
            info.started_time,
        );
        let error = match result {
            Ok(_) => {
                return Ok(Attempt {
                    attempt,
                    ..Attempt::default()
                });
            }
            Err(error) => error,
        };
        tracing::warn!(attempt, activity = %ctx.info().activity_type, %error, "activity attempt failed");
        let details = FailureDetails { attempt };
        let failure = match &error {
            CallError::Refused { kind, .. } => ApplicationFailure::builder(error.public_message())
                .type_name(kind.as_str().to_owned())
                .non_retryable(true)
                .details(details)
                .build(),
            CallError::Unexpected { .. } => ApplicationFailure::builder(error.public_message())
                .type_name("unexpected-answer".to_owned())
                .details(details)
                .build(),
            CallError::Unavailable { .. } => ApplicationFailure::builder(error.public_message())
                .type_name("unavailable".to_owned())
                .details(details)
                .build(),
            CallError::CircuitOpen { retry_after, .. } => {
                ApplicationFailure::builder(error.public_message())
                    .type_name(crate::policies::CIRCUIT_OPEN.to_owned())
                    .next_retry_delay(*retry_after)
                    .details(details)
                    .build()
            }
        };
        if report && !matches!(error, CallError::Refused { .. }) {
            report_attempt_failure(ctx, attempt, &error).await;
        }
        Err(ActivityError::application(failure))
    }
}

/// How long a failure report may hold up an activity's retry.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Best effort: the report only feeds the timeline; the retry happens regardless.
async fn report_attempt_failure(ctx: &ActivityContext, attempt: u32, error: &CallError) {
    let Some(handle) = ctx.workflow_handle::<saga_contract::temporal::OrderSaga>() else {
        return;
    };
    let report = AttemptFailure {
        attempt,
        error: error.public_message(),
        local: ctx.info().is_local,
    };
    let signal = handle.signal(
        AttemptFailedSignal,
        report,
        WorkflowSignalOptions::default(),
    );
    match tokio::time::timeout(REPORT_TIMEOUT, signal).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "could not report a failed attempt"),
        Err(_) => tracing::warn!("reporting a failed attempt timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{BreakerSettings, CircuitBreaker};

    /// Nothing listens there; these clients are never called.
    const URL: &str = "http://127.0.0.1:9";

    fn clients(services: &[&'static str]) -> BTreeMap<&'static str, ServiceClient> {
        let settings = BreakerSettings {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        };
        services
            .iter()
            .map(|&service| {
                let breaker = Arc::new(CircuitBreaker::new(service, settings));
                let client = ServiceClient::new(URL, reqwest::Client::new(), breaker, None);
                (service, client)
            })
            .collect()
    }

    /// The worker refuses to start rather than fail every saga at its charge.
    #[test]
    fn a_worker_without_a_service_the_saga_calls_does_not_start() {
        let missing = clients(&["inventory", "order", "notification"]);
        let error = SagaActivities::new(missing, SagaMetrics::disabled())
            .err()
            .expect("refused");
        assert!(error.contains("payment"), "{error}");

        let all = clients(&["inventory", "order", "payment", "notification"]);
        assert!(SagaActivities::new(all, SagaMetrics::disabled()).is_ok());
    }
}
