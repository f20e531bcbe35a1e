//! A stuck compensation asks for an operator: the `SagaAttention` search attribute
//! lists it, its status says where and since when, and `retry_now` resets the worker's
//! breaker before the next round, instead of after the pause.

use std::time::Duration;

use saga_contract::temporal::{OrderSaga as SagaDefinition, RetryNow};
use saga_contract::{AttentionReason, DecisionAction, Outcome, StepName, refusals};
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_client::errors::WorkflowUpdateError;

use crate::support::{InProcessWorker, Stack, eventually, saga, unique};

/// Whether the saga has run its `reset_breaker` activity (locally, as it does since
/// local steps).
async fn breaker_reset(stack: &Stack, order_id: &str) -> bool {
    worker::history::activities_run(&stack.history(order_id).await)
        .iter()
        .any(|(name, local)| name == "reset_breaker" && *local)
}

async fn retry_now(
    stack: &Stack,
    order_id: &str,
) -> Result<saga_contract::SagaStatus, WorkflowUpdateError> {
    stack
        .client
        .get_workflow_handle::<SagaDefinition>(order_id)
        .execute_update(RetryNow, (), WorkflowExecuteUpdateOptions::default())
        .await
}

#[tokio::test]
async fn a_stuck_compensation_is_listed_and_an_operator_retries_it_now() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(&unique("stuck"), &[("ESPRESSO", 2, 89_900)], "card_approve");
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;
    let refused = retry_now(&stack, &input.order_id)
        .await
        .expect_err("a saga that is not stuck has nothing to retry");
    match refused {
        WorkflowUpdateError::Failed(failure) => {
            assert_eq!(failure.message, refusals::NOTHING_TO_RETRY);
        }
        other => panic!("not a refusal: {other}"),
    }

    stack.inventory.set_failure_mode("down").await;
    stack
        .decide(&input.order_id, DecisionAction::Reject, Some("fraud check"))
        .await
        .expect("the rejection is accepted");
    eventually(
        Duration::from_secs(90),
        "the saga listed as stuck",
        || async { stack.listed_as_stuck(&input.order_id).await.then_some(()) },
    )
    .await;
    let attention = stack
        .status(&input.order_id)
        .await
        .attention
        .expect("the status says why");
    assert_eq!(attention.reason, AttentionReason::CompensationStuck);
    assert_eq!(attention.step, StepName::ReleaseInventory);

    // A retry while the service is still down: the worker's breaker is reset before
    // the next round, instead of waiting out the pause.
    retry_now(&stack, &input.order_id)
        .await
        .expect("the retry is accepted");
    eventually(Duration::from_secs(60), "the breaker reset", || async {
        breaker_reset(&stack, &input.order_id).await.then_some(())
    })
    .await;

    stack.inventory.set_failure_mode("off").await;
    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    // Visibility follows the search attribute a moment later.
    eventually(
        Duration::from_secs(10),
        "the attention list to drop it",
        || async { (!stack.listed_as_stuck(&input.order_id).await).then_some(()) },
    )
    .await;
    stack
        .record_history(&input.order_id, "compensation_stuck_retried_now")
        .await;
}
