//! The wait of a large order for review: a reviewer's decision, a cancellation (the
//! customer's or an operator's), or the deadline, whichever comes first.

use std::time::Duration;

use saga_contract::{PHASE_SEARCH_ATTRIBUTE, SagaInput, SagaPhase};
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_sdk::{CancellableFuture, WorkflowContext, workflows};

use super::calls::{shielded_timer, shielded_wait};
use super::decisions::{cancellation_reason, review_rejection};
use super::{ApprovalDecision, Halt, OPERATOR_CANCELLATION, OrderSaga, patches};

const PHASE: SearchAttributeKey<String> = SearchAttributeKey::keyword(PHASE_SEARCH_ATTRIBUTE);

impl OrderSaga {
    pub(super) async fn await_approval(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
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
        Self::mark_phase(ctx, SagaPhase::AwaitingApproval);
        Self::publish_events(ctx).await;

        let mut deadline_timer = ctx.timer(shielded_timer(timeout));
        let decided = workflows::select! {
            _ = ctx.wait_condition_with_options(
                |s: &Self| s.approval.is_some() || s.cancel_requested.is_some(),
                shielded_wait(),
            ) => true,
            _ = ctx.cancelled() => true,
            _ = deadline_timer => false,
        };
        if decided {
            deadline_timer.cancel();
        }
        let (approval, cancelled) = ctx.state(|s| (s.approval.clone(), s.cancel_requested.clone()));
        let refusal = match (decided, cancelled, approval) {
            (false, _, _) => Some("approval timed out".to_owned()),
            (true, Some(reason), _) => Some(cancellation_reason(reason)),
            (true, None, _) if Self::operator_cancelled(ctx) => {
                Some(OPERATOR_CANCELLATION.to_owned())
            }
            (true, None, Some(ApprovalDecision::Rejected(reason))) => Some(match reason {
                Some(reason) => format!("rejected by the customer: {reason}"),
                None => "rejected by the customer".to_owned(),
            }),
            (true, None, Some(ApprovalDecision::RejectedInReview(reason))) => {
                Some(review_rejection(reason.as_deref()))
            }
            (true, None, _) => None,
        };
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.settle_review(&now, refusal.as_deref(), None));
        Self::mark_phase(ctx, SagaPhase::Running);
        match refusal {
            Some(reason) => Err(Halt::because(reason)),
            None => Ok(()),
        }
    }

    /// Keeps the `SagaPhase` search attribute current, so that visibility lists the
    /// orders awaiting review (sagas started before it replay without it).
    fn mark_phase(ctx: &WorkflowContext<Self>, phase: SagaPhase) {
        if ctx.patched(patches::PHASE_SEARCH_ATTRIBUTE) {
            ctx.upsert_search_attributes([PHASE.value_set(phase.as_str().to_owned())]);
        }
    }
}
