//! The OrderSaga workflow: create the order, reserve stock, (wait for approval), charge,
//! confirm, notify; on failure, compensate what may have taken effect, in reverse.
//!
//! Workflow code must replay identically from history: it uses only the SDK's timers,
//! `select!`, `wait_condition` and workflow time, never the clock, randomness, I/O or
//! tokio primitives. All I/O happens in activities.

use std::time::Duration;

use saga_contract::{Decision, Outcome, SagaInput, SagaPhase, SagaResult, SagaStatus, StepName};
use serde::{Deserialize, Serialize};
use temporalio_common::ActivityDefinition;
use temporalio_common::error::IncomingError;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, CancellableFuture, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflows,
};

use crate::activities::{
    Attempt, ChargeRequest, FailureDetails, NotificationRequest, ReserveRequest, SagaActivities,
    StatusRequest,
};
use crate::policies;
use crate::timeline::Timeline;

/// The payload of the `attempt_failed` signal an activity sends when one of its
/// attempts fails and will be retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFailure {
    pub attempt: u32,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApprovalDecision {
    Approved,
    Rejected(Option<String>),
}

#[workflow]
#[derive(Default)]
pub struct OrderSaga {
    order_id: String,
    customer_id: String,
    timeline: Timeline,
    approval: Option<ApprovalDecision>,
    cancel_requested: Option<Option<String>>,
    /// Once the charge is under way a cancellation can no longer be honoured.
    payment_started: bool,
    /// Forward steps that may have taken effect, so need compensating on failure.
    effects: Vec<StepName>,
}

/// Why the forward path stopped.
#[derive(Debug)]
struct Abort {
    reason: String,
}

/// A step's activity failed for good.
#[derive(Debug)]
struct StepFailure {
    reason: String,
    /// The service refused: the call had no effect, and repeating it cannot help.
    refused: bool,
}

impl From<StepFailure> for Abort {
    fn from(failure: StepFailure) -> Self {
        Self {
            reason: failure.reason,
        }
    }
}

/// What the workflow can read of an activity's final failure.
#[derive(Debug)]
struct StepError {
    message: String,
    /// The service refused: the call had no effect and repeating it cannot help.
    refused: bool,
    attempts: Option<u32>,
}

impl StepError {
    fn from_execution(error: ActivityExecutionError) -> Self {
        match error.cause() {
            Some(IncomingError::Application(failure)) => Self {
                message: failure.to_string(),
                refused: failure.is_non_retryable(),
                attempts: failure
                    .details::<FailureDetails>()
                    .ok()
                    .flatten()
                    .map(|d| d.attempt),
            },
            Some(IncomingError::Timeout(timeout)) => Self {
                message: format!("timed out ({:?})", timeout.timeout_type()),
                refused: false,
                attempts: None,
            },
            _ => Self {
                message: error.to_string(),
                refused: false,
                attempts: None,
            },
        }
    }
}

#[workflow_methods]
impl OrderSaga {
    #[run(name = "OrderSaga")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: SagaInput,
    ) -> WorkflowResult<SagaResult> {
        ctx.state_mut(|s| {
            s.order_id = input.order_id.clone();
            s.customer_id = input.customer_id.clone();
            s.timeline = Timeline::new(&input.order_id, &input.customer_id, input.needs_approval());
        });
        let result = match Self::forward(ctx, &input).await {
            Ok(()) => {
                ctx.state_mut(|s| s.timeline.finish(SagaPhase::Completed));
                SagaResult {
                    order_id: input.order_id.clone(),
                    outcome: Outcome::Completed,
                    reason: None,
                }
            }
            Err(abort) => {
                Self::compensate(ctx, &input, &abort.reason).await;
                SagaResult {
                    order_id: input.order_id.clone(),
                    outcome: Outcome::Cancelled,
                    reason: Some(abort.reason),
                }
            }
        };
        Self::publish_events(ctx).await;
        Ok(result)
    }

    #[signal]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.approval.get_or_insert(ApprovalDecision::Approved);
    }

    #[signal]
    pub fn reject(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Decision) {
        self.approval
            .get_or_insert(ApprovalDecision::Rejected(decision.reason));
    }

    /// Honoured until the charge starts; afterwards the order can only complete.
    #[signal]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Decision) {
        if !self.payment_started {
            self.cancel_requested.get_or_insert(decision.reason);
        }
    }

    #[signal]
    pub fn attempt_failed(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        failure: AttemptFailure,
    ) {
        self.timeline
            .attempt_failed(failure.attempt, &failure.error);
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> SagaStatus {
        self.timeline.status()
    }
}

impl OrderSaga {
    async fn forward(ctx: &WorkflowContext<Self>, input: &SagaInput) -> Result<(), Abort> {
        let order_id = &input.order_id;

        Self::begin(ctx, StepName::CreateOrder);
        Self::effectful(
            ctx,
            StepName::CreateOrder,
            SagaActivities::create_order,
            input.clone(),
            policies::create_order(),
        )
        .await?;
        Self::end(ctx, StepName::CreateOrder);
        Self::honour_cancellation(ctx)?;

        Self::begin(ctx, StepName::ReserveInventory);
        let reserve = ReserveRequest {
            order_id: order_id.clone(),
            lines: input.lines.clone(),
        };
        Self::effectful(
            ctx,
            StepName::ReserveInventory,
            SagaActivities::reserve_inventory,
            reserve,
            policies::reserve_inventory(),
        )
        .await?;
        Self::call(
            ctx,
            StepName::ReserveInventory,
            SagaActivities::set_order_status,
            status(order_id, "RESERVED"),
            policies::reserve_inventory(),
        )
        .await?;
        Self::end(ctx, StepName::ReserveInventory);
        Self::honour_cancellation(ctx)?;

        if input.needs_approval() {
            Self::await_approval(ctx, input).await?;
        }
        Self::honour_cancellation(ctx)?;

        ctx.state_mut(|s| s.payment_started = true);
        Self::begin(ctx, StepName::ChargePayment);
        let charge = ChargeRequest {
            order_id: order_id.clone(),
            amount: input.total(),
            currency: input.currency.clone(),
            method: input.payment_method.clone(),
        };
        Self::effectful(
            ctx,
            StepName::ChargePayment,
            SagaActivities::charge_payment,
            charge,
            policies::charge_payment(),
        )
        .await?;
        Self::call(
            ctx,
            StepName::ChargePayment,
            SagaActivities::set_order_status,
            status(order_id, "PAID"),
            policies::charge_payment(),
        )
        .await?;
        Self::end(ctx, StepName::ChargePayment);

        Self::begin(ctx, StepName::ConfirmOrder);
        Self::call(
            ctx,
            StepName::ConfirmOrder,
            SagaActivities::commit_inventory,
            order_id.clone(),
            policies::confirm_order(),
        )
        .await?;
        Self::call(
            ctx,
            StepName::ConfirmOrder,
            SagaActivities::set_order_status,
            status(order_id, "COMPLETED"),
            policies::confirm_order(),
        )
        .await?;
        Self::end(ctx, StepName::ConfirmOrder);

        // The order is complete whatever happens to the notification; its step keeps
        // retrying (unlimited) and, should it be refused, the timeline shows why.
        Self::begin(ctx, StepName::NotifyCustomer);
        let notification = Self::customer_notification(
            ctx,
            "order.completed",
            "Your order is complete",
            "Payment received and stock confirmed.".to_owned(),
        );
        if Self::call(
            ctx,
            StepName::NotifyCustomer,
            SagaActivities::record_notification,
            notification,
            policies::final_notification(),
        )
        .await
        .is_ok()
        {
            Self::end(ctx, StepName::NotifyCustomer);
        }
        Ok(())
    }

    /// Waits for the customer's decision on a large order, a cancellation, or the
    /// deadline, whichever comes first.
    async fn await_approval(ctx: &WorkflowContext<Self>, input: &SagaInput) -> Result<(), Abort> {
        let timeout = Duration::from_secs(input.approval.timeout_secs);
        let now = Self::now(ctx);
        let deadline = ctx
            .workflow_time()
            .map(|t| service_kit::clock::format_system_time(t + timeout))
            .unwrap_or_default();
        ctx.state_mut(|s| {
            s.timeline
                .await_approval(&now, &deadline, input.total(), &input.currency)
        });
        Self::publish_events(ctx).await;

        let mut deadline_timer = ctx.timer(timeout);
        let decided = workflows::select! {
            _ = ctx.wait_condition(|s: &Self| s.approval.is_some() || s.cancel_requested.is_some()) => true,
            _ = deadline_timer => false,
        };
        if decided {
            deadline_timer.cancel();
        }
        let (approval, cancelled) = ctx.state(|s| (s.approval.clone(), s.cancel_requested.clone()));
        let refusal = match (decided, cancelled, approval) {
            (false, _, _) => Some("approval timed out".to_owned()),
            (true, Some(reason), _) => Some(cancellation_reason(reason)),
            (true, None, Some(ApprovalDecision::Rejected(reason))) => Some(match reason {
                Some(reason) => format!("rejected by the customer: {reason}"),
                None => "rejected by the customer".to_owned(),
            }),
            (true, None, _) => None,
        };
        let now = Self::now(ctx);
        ctx.state_mut(|s| {
            s.timeline.approval_settled();
            match &refusal {
                Some(reason) => s.timeline.fail(StepName::AwaitApproval, &now, None, reason),
                None => s.timeline.complete(StepName::AwaitApproval, &now),
            }
        });
        match refusal {
            Some(reason) => Err(Abort { reason }),
            None => Ok(()),
        }
    }

    fn honour_cancellation(ctx: &WorkflowContext<Self>) -> Result<(), Abort> {
        match ctx.state(|s| s.cancel_requested.clone()) {
            Some(reason) => Err(Abort {
                reason: cancellation_reason(reason),
            }),
            None => Ok(()),
        }
    }

    /// Compensates, newest first, every forward step that may have taken effect, then
    /// tells the customer.
    async fn compensate(ctx: &WorkflowContext<Self>, input: &SagaInput, reason: &str) {
        ctx.state_mut(|s| s.timeline.start_compensating(reason));
        let effects = ctx.state(|s| s.effects.clone());
        let order_id = input.order_id.clone();
        if effects.contains(&StepName::ChargePayment) {
            Self::compensation(
                ctx,
                input,
                StepName::RefundPayment,
                || SagaActivities::refund_payment,
                order_id.clone(),
            )
            .await;
        }
        if effects.contains(&StepName::ReserveInventory) {
            Self::compensation(
                ctx,
                input,
                StepName::ReleaseInventory,
                || SagaActivities::release_inventory,
                order_id.clone(),
            )
            .await;
        }
        if effects.contains(&StepName::CreateOrder) {
            let cancel = StatusRequest {
                order_id: order_id.clone(),
                status: "CANCELLED".to_owned(),
                reason: Some(reason.to_owned()),
            };
            Self::compensation(
                ctx,
                input,
                StepName::CancelOrder,
                || SagaActivities::cancel_order,
                cancel,
            )
            .await;
        }
        let notification = Self::customer_notification(
            ctx,
            "order.cancelled",
            "Your order was cancelled",
            reason.to_owned(),
        );
        Self::compensation(
            ctx,
            input,
            StepName::NotifyFailure,
            || SagaActivities::record_notification,
            notification,
        )
        .await;
        ctx.state_mut(|s| s.timeline.finish(SagaPhase::Cancelled));
    }

    /// Runs one compensating step until it succeeds. A round that fails raises one
    /// admin alert ("compensation stuck") and another round starts; a refusal (which
    /// only a bug or a hand-edited table can cause) is alerted and left to an admin.
    async fn compensation<A>(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        step: StepName,
        activity: impl Fn() -> A,
        request: A::Input,
    ) where
        A: ActivityDefinition<Output = Attempt>,
        A::Input: Clone,
    {
        Self::begin(ctx, step);
        let mut alerted = false;
        loop {
            match Self::call(
                ctx,
                step,
                activity(),
                request.clone(),
                policies::compensation_round(),
            )
            .await
            {
                Ok(()) => {
                    Self::end(ctx, step);
                    return;
                }
                Err(failure) => {
                    if !alerted || failure.refused {
                        Self::alert_admins(ctx, input, step, &failure.reason).await;
                        alerted = true;
                    }
                    if failure.refused {
                        return;
                    }
                    // Another round: the step is running again.
                    Self::begin(ctx, step);
                }
            }
        }
    }

    async fn alert_admins(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        step: StepName,
        error: &str,
    ) {
        let alert = NotificationRequest {
            user_id: saga_contract::ADMIN_USER.to_owned(),
            key: format!("{}.stuck.{}", input.order_id, step_key(step)),
            kind: "saga.compensation_stuck".to_owned(),
            title: format!(
                "Compensation stuck: {} of order {}",
                step.title(),
                input.order_id
            ),
            body: format!("Still retrying. Last error: {error}"),
            order_id: Some(input.order_id.clone()),
            data: serde_json::json!({"step": step, "error": error})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        // Best effort: the alert must not hold up the compensation itself.
        let _ = ctx
            .execute_activity(
                SagaActivities::record_notification,
                alert,
                policies::step_event(),
            )
            .await;
    }

    fn begin(ctx: &WorkflowContext<Self>, step: StepName) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.start(step, &now));
    }

    /// Runs the activity of `step` that changes a service's state. From the moment it
    /// is scheduled its effect may exist (an attempt may succeed at the service and
    /// still time out here), so the step needs compensating should the saga fail,
    /// unless the service refused it outright.
    async fn effectful<A>(
        ctx: &WorkflowContext<Self>,
        step: StepName,
        activity: A,
        input: impl Into<A::Input>,
        options: ActivityOptions,
    ) -> Result<(), StepFailure>
    where
        A: ActivityDefinition<Output = Attempt>,
    {
        ctx.state_mut(|s| s.effects.push(step));
        let result = Self::call(ctx, step, activity, input, options).await;
        if let Err(StepFailure { refused: true, .. }) = &result {
            ctx.state_mut(|s| s.effects.retain(|e| *e != step));
        }
        result
    }

    fn end(ctx: &WorkflowContext<Self>, step: StepName) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.complete(step, &now));
    }

    /// Runs one activity of `step`, publishing the timeline's events while it runs.
    /// On failure the step is marked failed; a refusal also means the step had no
    /// effect, so it needs no compensation.
    async fn call<A>(
        ctx: &WorkflowContext<Self>,
        step: StepName,
        activity: A,
        input: impl Into<A::Input>,
        options: ActivityOptions,
    ) -> Result<(), StepFailure>
    where
        A: ActivityDefinition<Output = Attempt>,
    {
        // Earlier events first, so the feed stays in the order things happened.
        Self::publish_events(ctx).await;
        let mut running = ctx.execute_activity(activity, input, options);
        let outcome = loop {
            workflows::select! {
                outcome = running => break outcome,
                _ = ctx.wait_condition(|s: &Self| s.timeline.has_unpublished()) => {}
            };
            Self::publish_events(ctx).await;
        };
        let now = Self::now(ctx);
        match outcome {
            Ok(Attempt { attempt }) => {
                ctx.state_mut(|s| s.timeline.activity_succeeded(step, attempt));
                Ok(())
            }
            Err(error) => {
                let error = StepError::from_execution(error);
                ctx.state_mut(|s| s.timeline.fail(step, &now, error.attempts, &error.message));
                Err(StepFailure {
                    reason: format!("{}: {}", step.title(), error.message),
                    refused: error.refused,
                })
            }
        }
    }

    /// Records the timeline's new events in the customer's notification feed, in order.
    async fn publish_events(ctx: &WorkflowContext<Self>) {
        let (user_id, order_id, pending) = ctx.state(|s| {
            (
                s.customer_id.clone(),
                s.order_id.clone(),
                s.timeline.unpublished(),
            )
        });
        for (seq, event) in pending {
            let request = NotificationRequest {
                user_id: user_id.clone(),
                key: format!("{order_id}.e{seq}"),
                kind: event.kind,
                title: event.title,
                body: String::new(),
                order_id: Some(order_id.clone()),
                data: event.data,
            };
            // Best effort (bounded retries): progress events must not stall the saga.
            let _ = ctx
                .execute_activity(
                    SagaActivities::record_notification,
                    request,
                    policies::step_event(),
                )
                .await;
            ctx.state_mut(|s| s.timeline.mark_published(seq));
        }
    }

    fn customer_notification(
        ctx: &WorkflowContext<Self>,
        kind: &str,
        title: &str,
        body: String,
    ) -> NotificationRequest {
        let (user_id, order_id) = ctx.state(|s| (s.customer_id.clone(), s.order_id.clone()));
        NotificationRequest {
            user_id,
            key: format!("{order_id}.{kind}"),
            kind: kind.to_owned(),
            title: title.to_owned(),
            body,
            order_id: Some(order_id),
            data: Default::default(),
        }
    }

    /// Workflow time: deterministic, the same on every replay.
    fn now(ctx: &WorkflowContext<Self>) -> String {
        ctx.workflow_time()
            .map(service_kit::clock::format_system_time)
            .unwrap_or_default()
    }
}

fn status(order_id: &str, status: &str) -> StatusRequest {
    StatusRequest {
        order_id: order_id.to_owned(),
        status: status.to_owned(),
        reason: None,
    }
}

fn cancellation_reason(reason: Option<String>) -> String {
    match reason {
        Some(reason) => format!("cancelled by the customer: {reason}"),
        None => "cancelled by the customer".to_owned(),
    }
}

fn step_key(step: StepName) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use saga_contract::temporal;
    use temporalio_common::{QueryDefinition, SignalDefinition, WorkflowDefinition};

    use super::*;

    /// Callers use the contract's definitions: they must name what the worker runs.
    #[test]
    fn the_contract_names_the_registered_workflow_signals_and_query() {
        assert_eq!(OrderSaga::run.name(), temporal::OrderSaga.name());
        assert_eq!(OrderSaga::approve.name(), temporal::Approve.name());
        assert_eq!(OrderSaga::reject.name(), temporal::Reject.name());
        assert_eq!(OrderSaga::cancel.name(), temporal::Cancel.name());
        assert_eq!(OrderSaga::status.name(), temporal::Status.name());
    }
}
