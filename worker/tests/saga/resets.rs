//! Temporal's reset, as an operator uses it (`temporal workflow reset`, the Web UI's
//! Reset button): it runs a saga again from a workflow task of its history, whatever
//! happened after it. Every step then finds its effect already made and takes it as
//! success, so a reset saga ends where it was: the same ledger and stock, one final
//! notification, and nothing for an operator to look at.

use saga_contract::{DecisionAction, Outcome, SagaResult};
use serde_json::Value;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;

use crate::support::{CUSTOMER, InProcessWorker, Stack, saga, unique};

/// Where a saga stands, as its customer and an operator see it.
#[derive(Debug, PartialEq)]
struct Settled {
    outcome: Outcome,
    ledger: (u64, u64),
    stock: (u64, u64),
    order_status: Value,
    /// Final notifications in the customer's feed: `order.completed`, `order.cancelled`.
    final_notifications: Vec<String>,
    needs_attention: bool,
}

async fn settled(stack: &Stack, order_id: &str, sku: &str) -> Settled {
    let result: SagaResult = stack.result(order_id).await;
    let final_notifications = stack
        .notifications(CUSTOMER)
        .await
        .iter()
        .filter(|n| n["order_id"] == order_id)
        .filter_map(|n| n["kind"].as_str())
        .filter(|kind| matches!(*kind, "order.completed" | "order.cancelled"))
        .map(str::to_owned)
        .collect();
    Settled {
        outcome: result.outcome,
        ledger: stack.ledger(order_id).await,
        stock: stack.stock(sku).await,
        order_status: stack.order(order_id).await["status"].clone(),
        final_notifications,
        needs_attention: stack.listed_as_stuck(order_id).await
            || stack.status(order_id).await.attention.is_some(),
    }
}

/// Where in a history to reset to: the id of a `WorkflowTaskCompleted` event.
type ResetPoint = fn(&[HistoryEvent]) -> i64;

/// The id of the `WorkflowTaskCompleted` event of the `nth` workflow task (from 0).
fn workflow_task(history: &[HistoryEvent], nth: usize) -> i64 {
    history
        .iter()
        .filter(|event| {
            matches!(
                event.attributes,
                Some(Attributes::WorkflowTaskCompletedEventAttributes(_))
            )
        })
        .nth(nth)
        .map(|event| event.event_id)
        .unwrap_or_else(|| panic!("no workflow task {nth}"))
}

/// The workflow task that learnt the charge's outcome.
fn task_after_the_charge(history: &[HistoryEvent]) -> i64 {
    let charged = history
        .iter()
        .position(|event| {
            matches!(
                event.attributes,
                Some(Attributes::ActivityTaskCompletedEventAttributes(_))
            )
        })
        .expect("the charge completed");
    history[charged..]
        .iter()
        .find(|event| {
            matches!(
                event.attributes,
                Some(Attributes::WorkflowTaskCompletedEventAttributes(_))
            )
        })
        .map(|event| event.event_id)
        .expect("a workflow task after the charge")
}

/// Resets the saga to the workflow task completed at `event_id`, as `temporal workflow
/// reset --event-id` does: a new run takes over from there.
async fn reset(stack: &Stack, order_id: &str, event_id: i64) {
    let request = ResetWorkflowExecutionRequest {
        namespace: stack.client.options().namespace.clone(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: order_id.to_owned(),
            run_id: String::new(),
        }),
        reason: "the saga test resets it".to_owned(),
        workflow_task_finish_event_id: event_id,
        request_id: uuid::Uuid::new_v4().to_string(),
        ..ResetWorkflowExecutionRequest::default()
    };
    stack
        .client
        .connection()
        .workflow_service()
        .reset_workflow_execution(tonic::Request::new(request))
        .await
        .expect("reset the saga");
}

#[tokio::test]
async fn a_completed_saga_reset_to_its_start_or_after_its_charge_ends_as_it_was() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(
        &unique("reset-completed"),
        &[("MUG", 2, 1250)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    let before = settled(&stack, &input.order_id, "MUG").await;
    assert_eq!(before.outcome, Outcome::Completed);
    assert_eq!(before.final_notifications, ["order.completed"]);

    let points: [(&str, ResetPoint); 2] = [
        ("its first workflow task", |history| {
            workflow_task(history, 0)
        }),
        ("the task after its charge", task_after_the_charge),
    ];
    for (name, point) in points {
        // The latest run's history: each reset starts a new run.
        let point = point(&stack.history(&input.order_id).await);
        reset(&stack, &input.order_id, point).await;
        assert_eq!(
            settled(&stack, &input.order_id, "MUG").await,
            before,
            "reset to {name}"
        );
    }
}

#[tokio::test]
async fn a_compensated_saga_reset_to_its_start_ends_as_it_was() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("KETTLE", 10, 5900).await;
    let input = saga(
        &unique("reset-declined"),
        &[("KETTLE", 1, 5900)],
        "card_decline",
    );
    stack.start_saga(&input).await;
    let before = settled(&stack, &input.order_id, "KETTLE").await;
    assert_eq!(before.outcome, Outcome::Cancelled);
    assert_eq!(before.ledger, (0, 0));
    assert_eq!(before.stock, (10, 0));

    let history = stack.history(&input.order_id).await;
    reset(&stack, &input.order_id, workflow_task(&history, 0)).await;
    assert_eq!(settled(&stack, &input.order_id, "KETTLE").await, before);
}

#[tokio::test]
async fn a_saga_reset_while_awaiting_review_awaits_it_again_and_completes_once() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(
        &unique("reset-review"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;

    let history = stack.history(&input.order_id).await;
    reset(&stack, &input.order_id, workflow_task(&history, 0)).await;
    stack.awaiting_approval(&input.order_id).await;
    assert_eq!(
        stack.stock("ESPRESSO").await,
        (1, 2),
        "the stock is held once"
    );
    stack
        .decide(&input.order_id, DecisionAction::Approve, None)
        .await
        .expect("the approval is accepted");
    let after = settled(&stack, &input.order_id, "ESPRESSO").await;
    assert_eq!(after.outcome, Outcome::Completed);
    assert_eq!(after.ledger, (179_800, 0));
    assert_eq!(after.stock, (1, 0));
    assert_eq!(after.final_notifications, ["order.completed"]);
    assert!(!after.needs_attention);
    let in_review = stack
        .notifications(CUSTOMER)
        .await
        .iter()
        .filter(|n| n["kind"] == "order.approval_required")
        .count();
    assert_eq!(in_review, 1, "the review was announced once");
}

#[tokio::test]
async fn a_reviewed_saga_reset_after_it_completed_is_not_reviewed_again() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("GRINDER", 3, 89_900).await;
    let input = saga(
        &unique("reset-reviewed"),
        &[("GRINDER", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;
    stack
        .decide(&input.order_id, DecisionAction::Approve, None)
        .await
        .expect("the approval is accepted");
    let before = settled(&stack, &input.order_id, "GRINDER").await;
    assert_eq!(before.outcome, Outcome::Completed);

    // The new run finds the order paid: it ends as it was without a second review
    // (which would wait for a reviewer, and refund a completed order on its timeout).
    let history = stack.history(&input.order_id).await;
    reset(&stack, &input.order_id, workflow_task(&history, 0)).await;
    assert_eq!(settled(&stack, &input.order_id, "GRINDER").await, before);
    let reviews = stack
        .notifications(CUSTOMER)
        .await
        .iter()
        .filter(|n| n["order_id"] == input.order_id.as_str())
        .filter(|n| n["kind"] == "order.approval_required")
        .count();
    assert_eq!(reviews, 1, "the review was announced once");
}
