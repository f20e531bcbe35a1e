//! A saga that needs an operator says so: a compensation that fails a whole round of
//! retries sets the `SagaAttention` search attribute (so that visibility lists it), logs
//! "compensation stuck" at error (for log-based alarms) and alerts the admins, and keeps
//! retrying; an operator's `retry_now` update resets the worker's breaker for the
//! step's service and retries at once instead of after the pause.

use saga_contract::{ATTENTION_SEARCH_ATTRIBUTE, AttentionReason, SagaInput, refusals};
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_sdk::{CancellableFuture, WorkflowContext, workflows};

use super::calls::{shielded_timer, shielded_wait};
use super::steps::Compensation;
use super::{OrderSaga, patches};
use crate::activities::SagaActivities;
use crate::policies;

const ATTENTION: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(ATTENTION_SEARCH_ATTRIBUTE);

impl OrderSaga {
    /// Why there is nothing for `retry_now` to do, or `None`.
    pub(super) fn retry_refusal(&self) -> Option<&'static str> {
        match self.timeline.attention() {
            Some(_) => None,
            None => Some(refusals::NOTHING_TO_RETRY),
        }
    }

    /// The compensating `step` failed a whole round: the saga needs an operator.
    pub(super) async fn compensation_stuck(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        compensation: &Compensation,
        error: &str,
    ) {
        let step = compensation.name;
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.compensation_stuck(step, &now));
        if !ctx.is_replaying() {
            tracing::error!(
                workflow_id = %input.order_id,
                step = step.as_str(),
                service = compensation.service,
                %error,
                "compensation stuck: still retrying"
            );
        }
        Self::mark_attention(ctx, Some(AttentionReason::CompensationStuck));
        Self::alert_admins(ctx, input, compensation, error).await;
    }

    pub(super) fn attention_resolved(ctx: &WorkflowContext<Self>) {
        ctx.state_mut(|s| s.timeline.attention_resolved());
        Self::mark_attention(ctx, None);
    }

    /// Waits out the pause between two rounds of a compensation, unless an operator
    /// asks to retry now: then the breaker of the step's service is reset first.
    pub(super) async fn pause_or_retry_now(ctx: &WorkflowContext<Self>, step: &Compensation) {
        let mut pause = ctx.timer(shielded_timer(policies::COMPENSATION_ROUND_PAUSE));
        let retry_now = workflows::select! {
            _ = ctx.wait_condition_with_options(|s: &Self| s.retry_now, shielded_wait()) => true,
            _ = pause => false,
        };
        if !retry_now {
            return;
        }
        pause.cancel();
        ctx.state_mut(|s| s.retry_now = false);
        // Best effort: a reset that fails leaves the breaker to its cool-down.
        let _ = Self::side_call(
            ctx,
            SagaActivities::reset_breaker,
            step.service.to_owned(),
            policies::STEP_EVENT,
        )
        .await;
    }

    /// Keeps the `SagaAttention` search attribute current (sagas started before it
    /// replay without it).
    fn mark_attention(ctx: &WorkflowContext<Self>, reason: Option<AttentionReason>) {
        if ctx.patched(patches::ATTENTION_SEARCH_ATTRIBUTE) {
            // Empty rather than unset: the SDK's unset (temporalio-sdk 1.1.1) sends a
            // payload the server refuses, failing the workflow task on every attempt.
            let value = reason.map_or("", AttentionReason::as_str);
            ctx.upsert_search_attributes([ATTENTION.value_set(value.to_owned())]);
        }
    }
}
