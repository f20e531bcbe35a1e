//! Undoing a saga: every forward step that may have taken effect is compensated,
//! newest first, out of any cancellation's reach, until each succeeds.

use saga_contract::{EventKind, SagaInput, SagaPhase};
use temporalio_sdk::WorkflowContext;

use super::calls::SagaActivity;
use super::steps::{Compensation, FORWARD, NOTIFY_FAILURE};
use super::{OrderSaga, patches};
use crate::activities::SagaActivities;
use crate::payloads::{CancelRequest, NotificationRequest};
use crate::policies;

impl OrderSaga {
    /// Compensates, newest first, every forward step that may have taken effect, then
    /// tells the customer.
    pub(super) async fn compensate(ctx: &WorkflowContext<Self>, input: &SagaInput, reason: &str) {
        ctx.state_mut(|s| s.timeline.start_compensating(reason));
        let effects = ctx.state(|s| s.effects.clone());
        for step in FORWARD.iter().rev() {
            if let Some(compensation) = step.compensation
                && effects.contains(&step.name)
            {
                (compensation.run)(ctx, input, reason).await;
            }
        }
        (NOTIFY_FAILURE.run)(ctx, input, reason).await;
        ctx.state_mut(|s| s.timeline.finish(SagaPhase::Cancelled));
    }

    /// Refunds whatever was captured.
    pub(super) async fn refund(ctx: &WorkflowContext<Self>, input: &SagaInput) {
        let refund = || SagaActivities::refund_payment;
        Self::compensation(
            ctx,
            input,
            &super::steps::REFUND_PAYMENT,
            refund,
            input.order_id.clone(),
        )
        .await;
    }

    /// Puts the held stock back.
    pub(super) async fn release(ctx: &WorkflowContext<Self>, input: &SagaInput) {
        let release = || SagaActivities::release_inventory;
        Self::compensation(
            ctx,
            input,
            &super::steps::RELEASE_INVENTORY,
            release,
            input.order_id.clone(),
        )
        .await;
    }

    /// Cancels the order with the saga's reason.
    pub(super) async fn cancel_order(ctx: &WorkflowContext<Self>, input: &SagaInput, reason: &str) {
        let cancel = CancelRequest {
            order_id: input.order_id.clone(),
            reason: reason.to_owned(),
        };
        let cancel_order = || SagaActivities::cancel_order;
        Self::compensation(
            ctx,
            input,
            &super::steps::CANCEL_ORDER,
            cancel_order,
            cancel,
        )
        .await;
    }

    /// Tells the customer why the order was cancelled.
    pub(super) async fn notify_failure(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        reason: &str,
    ) {
        let notification = Self::final_notification(
            ctx,
            EventKind::OrderCancelled,
            "Your order was cancelled",
            reason.to_owned(),
        );
        let record = || SagaActivities::record_notification;
        Self::compensation(ctx, input, &NOTIFY_FAILURE, record, notification).await;
    }

    /// Runs one compensating step until it succeeds, out of any cancellation's reach.
    /// A round that fails raises one admin alert ("compensation stuck"); after a pause,
    /// another round starts, whatever the failure was: a compensation that gives up
    /// leaves stock held or money taken.
    async fn compensation<A>(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        compensation: &Compensation,
        activity: impl Fn() -> A,
        request: A::Input,
    ) where
        A: SagaActivity,
        A::Input: Clone,
    {
        let step = compensation.name;
        Self::begin(ctx, step);
        let mut alerted = false;
        loop {
            match compensation
                .call()
                .run(ctx, &activity, request.clone())
                .await
            {
                Ok(_) => {
                    Self::end(ctx, step);
                    if alerted {
                        Self::attention_resolved(ctx);
                    }
                    return;
                }
                Err(failure) => {
                    let pause = ctx.patched(patches::COMPENSATION_ROUND_PAUSE);
                    // Before the patch, a refusal was alerted and given up on.
                    if !alerted || (failure.refused && !pause) {
                        Self::compensation_stuck(ctx, input, compensation, &failure.reason).await;
                        alerted = true;
                    }
                    if pause {
                        // However a round ends (even at once), the next one waits on a
                        // timer, or an operator's retry: the loop always yields.
                        Self::pause_or_retry_now(ctx, compensation).await;
                    } else if failure.refused {
                        return;
                    }
                    // Another round: the step is running again.
                    Self::begin(ctx, step);
                }
            }
        }
    }

    pub(super) async fn alert_admins(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        compensation: &Compensation,
        error: &str,
    ) {
        let step = compensation.name;
        let alert = NotificationRequest {
            user_id: saga_contract::ADMIN_USER.to_owned(),
            key: format!("{}.stuck.{}", input.order_id, step.as_str()),
            kind: EventKind::CompensationStuck,
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
        let _ = Self::side_call(
            ctx,
            SagaActivities::record_notification,
            alert,
            policies::STEP_EVENT,
        )
        .await;
    }
}
