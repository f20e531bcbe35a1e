//! Undoing a saga: every forward step that may have taken effect is compensated,
//! newest first, out of any cancellation's reach, until each succeeds.

use saga_contract::{SagaInput, SagaPhase, StepName};
use temporalio_sdk::WorkflowContext;

use super::steps::{SagaActivity, Scope};
use super::{OrderSaga, patches, step_key};
use crate::activities::SagaActivities;
use crate::payloads::{CancelRequest, NotificationRequest};
use crate::policies;

impl OrderSaga {
    /// Compensates, newest first, every forward step that may have taken effect, then
    /// tells the customer.
    pub(super) async fn compensate(ctx: &WorkflowContext<Self>, input: &SagaInput, reason: &str) {
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
            let cancel = CancelRequest {
                order_id: order_id.clone(),
                reason: reason.to_owned(),
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

    /// Runs one compensating step until it succeeds, out of any cancellation's reach.
    /// A round that fails raises one admin alert ("compensation stuck"); after a pause,
    /// another round starts, whatever the failure was: a compensation that gives up
    /// leaves stock held or money taken.
    pub(super) async fn compensation<A>(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        step: StepName,
        activity: impl Fn() -> A,
        request: A::Input,
    ) where
        A: SagaActivity,
        A::Input: Clone,
    {
        Self::begin(ctx, step);
        let mut alerted = false;
        loop {
            match Self::call(
                ctx,
                step,
                Scope::Shielded,
                activity(),
                request.clone(),
                policies::compensation_round(),
            )
            .await
            {
                Ok(()) => {
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
                        Self::compensation_stuck(ctx, input, step, &failure.reason).await;
                        alerted = true;
                    }
                    if pause {
                        // However a round ends (even at once), the next one waits on a
                        // timer, or an operator's retry: the loop always yields.
                        Self::pause_or_retry_now(ctx, step).await;
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
                Scope::Shielded.activity(policies::step_event()),
            )
            .await;
    }
}
