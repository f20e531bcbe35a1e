//! Reviews and cancellations as the `decide` Update: validated before anything enters
//! the history, answered with the saga's status, and the review queue kept in Temporal's
//! visibility by the `SagaPhase` search attribute.

use std::time::Duration;

use saga_contract::temporal;
use saga_contract::{
    Decider, DeciderRole, DecisionAction, OrderDecision, Outcome, SagaPhase, SagaStatus, StepName,
    StepRecord, StepStatus, refusals,
};
use service_kit::payload_codec::test_payload;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowStartOptions};
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::{HasWorkflowDefinition, UpdateDefinition};
use worker::workflow::OrderSaga;

use crate::support::{CUSTOMER, InProcessWorker, Stack, eventually, reviewer, saga, unique};

type SagaRun = <OrderSaga as HasWorkflowDefinition>::Run;

/// The `decide` update with raw payloads: what `temporal workflow update execute` sends.
struct RawDecide;

impl UpdateDefinition for RawDecide {
    type Workflow = SagaRun;
    type Input = RawValue;
    type Output = RawValue;
    fn name(&self) -> &str {
        saga_contract::DECIDE_UPDATE
    }
}

fn refusal(error: WorkflowUpdateError) -> String {
    match error {
        WorkflowUpdateError::Failed(failure) => failure.message,
        other => panic!("not a refusal: {other}"),
    }
}

/// Whether visibility lists the order among those awaiting review.
async fn in_review_queue(stack: &Stack, order_id: &str) -> bool {
    let awaiting = SagaPhase::AwaitingApproval.as_str();
    stack
        .is_listed(order_id, saga_contract::PHASE_SEARCH_ATTRIBUTE, awaiting)
        .await
}

fn review_step(status: &SagaStatus) -> StepRecord {
    status
        .steps
        .iter()
        .find(|step| step.name == StepName::AwaitApproval)
        .cloned()
        .expect("the review step")
}

async fn history_events(stack: &Stack, order_id: &str) -> Vec<EventType> {
    stack
        .history(order_id)
        .await
        .iter()
        .map(|event| event.event_type())
        .collect()
}

#[tokio::test]
async fn a_review_is_an_update_validated_before_it_enters_the_history() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 5, 89_900).await;
    let order = saga(
        &unique("review"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&order).await;
    stack.awaiting_approval(&order.order_id).await;
    eventually(
        std::time::Duration::from_secs(30),
        "the review queue to list the order",
        || async { in_review_queue(&stack, &order.order_id).await.then_some(()) },
    )
    .await;

    // `temporal workflow update execute --name decide --input '"garbage"'`: refused.
    let garbage = stack
        .client
        .get_workflow_handle::<OrderSaga>(order.order_id.as_str())
        .execute_update(
            RawDecide,
            RawValue::new(vec![test_payload("json/plain", br#""garbage""#)]),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    assert!(garbage.is_err(), "a malformed decision is refused");

    let approved = stack
        .decide(&order.order_id, DecisionAction::Approve, None)
        .await
        .expect("the approval is accepted");
    assert_eq!(approved.phase, SagaPhase::Running);
    let review = approved
        .steps
        .iter()
        .find(|step| step.name == StepName::AwaitApproval)
        .expect("the review step");
    assert_eq!(review.status, StepStatus::Completed);
    let again = stack
        .decide(&order.order_id, DecisionAction::Reject, Some("too late"))
        .await
        .expect_err("a second review is refused");
    assert_eq!(refusal(again), refusals::ALREADY_REVIEWED);

    let result = stack.result(&order.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.ledger(&order.order_id).await, (179_800, 0));
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    eventually(Duration::from_secs(10), "the queue to drop it", || async {
        (!in_review_queue(&stack, &order.order_id).await).then_some(())
    })
    .await;
    let accepted = history_events(&stack, &order.order_id)
        .await
        .into_iter()
        .filter(|event| *event == EventType::WorkflowExecutionUpdateAccepted)
        .count();
    assert_eq!(accepted, 1, "only the approval entered the history");
    let refused = stack
        .decide(&order.order_id, DecisionAction::Cancel, None)
        .await
        .expect_err("a finished saga takes no decision");
    assert!(
        matches!(refused, WorkflowUpdateError::NotFound(_)),
        "{refused}"
    );
    stack
        .record_history(&order.order_id, "review_approved")
        .await;
}

#[tokio::test]
async fn a_rejection_in_review_compensates_with_its_reason() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 5, 89_900).await;
    let order = saga(
        &unique("rejected"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&order).await;
    stack.awaiting_approval(&order.order_id).await;

    let status = stack
        .decide(
            &order.order_id,
            DecisionAction::Reject,
            Some("address unverified"),
        )
        .await
        .expect("the rejection is accepted");
    let review = status
        .steps
        .iter()
        .find(|step| step.name == StepName::AwaitApproval)
        .expect("the review step");
    assert_eq!(review.status, StepStatus::Failed);

    let result = stack.result(&order.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(
        result.reason.as_deref(),
        Some("rejected in review: address unverified")
    );
    assert_eq!(stack.stock("ESPRESSO").await, (5, 0));
    assert_eq!(stack.ledger(&order.order_id).await, (0, 0));
    stack
        .record_history(&order.order_id, "review_rejected")
        .await;
}

#[tokio::test]
async fn the_customer_cancels_in_review_and_an_unreviewed_order_times_out() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 4, 89_900).await;
    let cancelled = saga(
        &unique("withdrawn"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    let mut forgotten = saga(
        &unique("unreviewed"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    forgotten.approval.timeout_secs = 3;
    stack.start_saga(&cancelled).await;
    stack.start_saga(&forgotten).await;
    stack.awaiting_approval(&cancelled.order_id).await;

    let status = stack.customer_cancels(&cancelled.order_id).await;
    assert!(status.cancel_requested);
    let result = stack.result(&cancelled.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(
        result.reason.as_deref(),
        Some("cancelled by the customer: changed my mind")
    );

    let result = stack.result(&forgotten.order_id).await;
    assert_eq!(result.reason.as_deref(), Some("approval timed out"));
    // Visibility follows the search attribute a moment later.
    eventually(Duration::from_secs(10), "the queue to drop it", || async {
        (!in_review_queue(&stack, &forgotten.order_id).await).then_some(())
    })
    .await;
    assert_eq!(stack.stock("ESPRESSO").await, (4, 0));
    stack
        .record_history(&forgotten.order_id, "review_timeout")
        .await;
}

#[tokio::test]
async fn the_old_review_signals_are_ignored_and_a_signed_decision_still_decides() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 5, 89_900).await;
    let order = saga(
        &unique("review-signals"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&order).await;
    stack.awaiting_approval(&order.order_id).await;

    // `temporal workflow signal --name approve`: anyone who reaches Temporal could send
    // it, naming no reviewer.
    stack.approve(&order.order_id).await;
    stack.reject(&order.order_id, "by signal").await;
    let status = eventually(
        Duration::from_secs(30),
        "the saga to note both signals, or to act on one",
        || async {
            let status = stack.status(&order.order_id).await;
            (status.notes.len() == 2 || status.phase != SagaPhase::AwaitingApproval)
                .then_some(status)
        },
    )
    .await;
    assert_eq!(
        status.notes,
        [
            "ignored: approve signal, reviews are the decide update",
            "ignored: reject signal, reviews are the decide update",
        ]
    );
    assert_eq!(status.phase, SagaPhase::AwaitingApproval);
    assert_eq!(review_step(&status).status, StepStatus::Waiting);
    assert_eq!(stack.ledger(&order.order_id).await, (0, 0));

    // `temporal workflow signal-with-start --signal approve`: the signal is handled
    // before the saga's code first runs, and is ignored all the same.
    let presigned = saga(
        &unique("review-signal-with-start"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack
        .client
        .signal_with_start_workflow(
            temporal::OrderSaga,
            presigned.clone(),
            temporal::Approve,
            (),
            WorkflowStartOptions::new(stack.task_queue.clone(), presigned.order_id.clone()).build(),
        )
        .await
        .expect("signal with start");
    let status = stack.awaiting_approval(&presigned.order_id).await;
    assert_eq!(
        status.notes,
        ["ignored: approve signal, reviews are the decide update"]
    );

    for order_id in [&order.order_id, &presigned.order_id] {
        let approved = stack
            .decide(order_id, DecisionAction::Approve, None)
            .await
            .expect("the signed approval is accepted");
        assert_eq!(review_step(&approved).status, StepStatus::Completed);
        let result = stack.result(order_id).await;
        assert_eq!(result.outcome, Outcome::Completed);
        assert_eq!(stack.ledger(order_id).await, (179_800, 0));
    }
    stack
        .record_history(&order.order_id, "review_signals_ignored")
        .await;
    stack
        .record_history(&presigned.order_id, "review_signal_with_start_ignored")
        .await;
}

#[tokio::test]
async fn the_reviewer_is_named_in_the_status_and_the_final_notification() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 5, 89_900).await;
    let order = saga(
        &unique("reviewed-by"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&order).await;
    stack.awaiting_approval(&order.order_id).await;

    let approved = stack
        .decide(&order.order_id, DecisionAction::Approve, None)
        .await
        .expect("the approval is accepted");
    let review = review_step(&approved);
    assert_eq!(review.decided_by, Some(reviewer()));
    let decided_at = review.finished_at.clone().expect("when it was decided");

    assert_eq!(
        stack.result(&order.order_id).await.outcome,
        Outcome::Completed
    );
    let status = stack.status(&order.order_id).await;
    assert_eq!(review_step(&status).decided_by, Some(reviewer()));
    assert_eq!(review_step(&status).finished_at, Some(decided_at.clone()));
    let completed = stack
        .notifications(CUSTOMER)
        .await
        .into_iter()
        .find(|n| n["kind"] == "order.completed" && n["order_id"] == order.order_id.as_str())
        .expect("the final notification");
    let steps: Vec<StepRecord> =
        serde_json::from_value(completed["data"]["steps"].clone()).expect("its steps");
    let review = steps
        .iter()
        .find(|step| step.name == StepName::AwaitApproval)
        .expect("the review in the notification");
    assert_eq!(review.decided_by, Some(reviewer()));
    assert_eq!(review.finished_at, Some(decided_at));
    stack.record_history(&order.order_id, "review_signed").await;
}

#[tokio::test]
async fn the_saga_refuses_a_review_by_the_customer_or_by_nobody() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 5, 89_900).await;
    let order = saga(
        &unique("own-order"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&order).await;
    stack.awaiting_approval(&order.order_id).await;

    // Straight to Temporal, past the gateway's own check: the saga refuses it itself.
    let own = stack
        .send_decision(
            &order.order_id,
            OrderDecision {
                action: DecisionAction::Approve,
                reason: None,
                decided_by: Some(Decider {
                    id: CUSTOMER.to_owned(),
                    role: DeciderRole::Admin,
                }),
            },
        )
        .await
        .expect_err("the customer may not approve their own order");
    assert_eq!(refusal(own), refusals::OWN_ORDER);
    let unsigned = stack
        .send_decision(
            &order.order_id,
            OrderDecision {
                action: DecisionAction::Approve,
                reason: None,
                decided_by: None,
            },
        )
        .await
        .expect_err("a review names its reviewer");
    assert_eq!(refusal(unsigned), refusals::NO_REVIEWER);
    let status = stack.status(&order.order_id).await;
    assert_eq!(status.phase, SagaPhase::AwaitingApproval);

    let rejected = stack
        .decide(&order.order_id, DecisionAction::Reject, Some("fraud check"))
        .await
        .expect("a reviewer's rejection is accepted");
    assert_eq!(review_step(&rejected).decided_by, Some(reviewer()));
    let result = stack.result(&order.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    let accepted = history_events(&stack, &order.order_id)
        .await
        .into_iter()
        .filter(|event| *event == EventType::WorkflowExecutionUpdateAccepted)
        .count();
    assert_eq!(
        accepted, 1,
        "only the reviewer's rejection entered the history"
    );
}
