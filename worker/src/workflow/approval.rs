//! The wait of a large order for its customer's decision.

use std::time::Duration;

use saga_contract::{SagaInput, StepName};
use temporalio_sdk::{CancellableFuture, WorkflowContext, workflows};

use super::{
    ApprovalDecision, Halt, OPERATOR_CANCELLATION, OrderSaga, cancellation_reason, shielded_timer,
    shielded_wait,
};

impl OrderSaga {
    /// Waits for the customer's decision on a large order, a cancellation (the
    /// customer's or an operator's), or the deadline, whichever comes first.
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
            Some(reason) => Err(Halt::because(reason)),
            None => Ok(()),
        }
    }
}
