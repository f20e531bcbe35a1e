//! Every path of the saga. Each test asserts the final order status, the stock, the
//! payment ledger and the notifications, and records its history for the replay test.

use std::time::Duration;

use saga_contract::{DecisionAction, Outcome, SagaPhase, StepName, StepStatus, refusals};
use serde_json::Value;

use crate::support::{CUSTOMER, InProcessWorker, Stack, eventually, saga, statuses, unique};

fn kinds(notifications: &[Value]) -> Vec<&str> {
    notifications
        .iter()
        .map(|n| n["kind"].as_str().expect("kind"))
        .collect()
}

fn step_status(status: &saga_contract::SagaStatus, name: StepName) -> Option<StepStatus> {
    status
        .steps
        .iter()
        .rev()
        .find(|s| s.name == name)
        .map(|s| s.status)
}

/// Steps of the timeline that ran (not skipped or pending), in order.
fn ran(status: &saga_contract::SagaStatus) -> Vec<(StepName, StepStatus)> {
    status
        .steps
        .iter()
        .filter(|s| !matches!(s.status, StepStatus::Skipped | StepStatus::Pending))
        .map(|s| (s.name, s.status))
        .collect()
}

#[tokio::test]
async fn success_completes_the_order_charges_once_and_sells_the_stock() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("success"), &[("MUG", 2, 1250)], "card_approve");
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.stock("MUG").await, (8, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (2500, 0));
    let order = stack.order(&input.order_id).await;
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    // One notification, which carries the steps the saga ran.
    let notifications = stack.notifications(CUSTOMER).await;
    assert_eq!(kinds(&notifications), ["order.completed"]);
    let reported: Vec<(&str, &str)> = notifications[0]["data"]["steps"]
        .as_array()
        .expect("the steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name"),
                s["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            ("create_order", "completed"),
            ("reserve_inventory", "completed"),
            ("charge_payment", "completed"),
            ("confirm_order", "completed"),
        ]
    );
    // Only the charge ran on the task queue; the rest locally, in two workflow tasks.
    let history = stack.history(&input.order_id).await;
    let activities = worker::history::activities_run(&history);
    let activities: Vec<(&str, bool)> = activities.iter().map(|(a, l)| (a.as_str(), *l)).collect();
    assert_eq!(
        activities,
        [
            ("create_order", true),
            ("reserve_inventory", true),
            ("set_order_status", true),
            ("charge_payment", false),
            ("commit_reservation", true),
            ("set_order_status", true),
            ("record_notification", true),
        ]
    );
    assert_eq!(worker::history::figures(&history).workflow_tasks, 2);

    let status = stack.status(&input.order_id).await;
    assert_eq!(status.phase, SagaPhase::Completed);
    assert_eq!(
        ran(&status),
        [
            (StepName::CreateOrder, StepStatus::Completed),
            (StepName::ReserveInventory, StepStatus::Completed),
            (StepName::ChargePayment, StepStatus::Completed),
            (StepName::ConfirmOrder, StepStatus::Completed),
            (StepName::NotifyCustomer, StepStatus::Completed),
        ]
    );
    assert_eq!(
        step_status(&status, StepName::AwaitApproval),
        Some(StepStatus::Skipped)
    );
    assert!(status.steps.iter().all(|s| s.last_error.is_none()));
    stack.record_history(&input.order_id, "success").await;
}

#[tokio::test]
async fn out_of_stock_cancels_the_order_without_charging() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("TIN", 2, 1500).await;
    let input = saga(&unique("out-of-stock"), &[("TIN", 5, 1500)], "card_approve");
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    let reason = result.reason.expect("a reason");
    assert!(reason.contains("5 requested, 2 available"), "{reason}");
    assert_eq!(stack.stock("TIN").await, (2, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    let order = stack.order(&input.order_id).await;
    assert_eq!(statuses(&order), ["PENDING", "CANCELLED"]);
    assert_eq!(order["cancel_reason"], reason.as_str());
    let notifications = stack.notifications(CUSTOMER).await;
    assert_eq!(kinds(&notifications), ["order.cancelled"]);
    // A refusal is final in the local phase: the whole saga ran in one workflow task.
    let history = stack.history(&input.order_id).await;
    let activities = worker::history::activities_run(&history);
    assert!(activities.iter().all(|(_, local)| *local), "{activities:?}");
    assert_eq!(worker::history::figures(&history).workflow_tasks, 1);

    let status = stack.status(&input.order_id).await;
    assert_eq!(status.phase, SagaPhase::Cancelled);
    // The reservation was attempted, so it is released: a release of nothing is a
    // no-op, and it closes the order to a reservation still in flight.
    assert_eq!(
        ran(&status),
        [
            (StepName::CreateOrder, StepStatus::Completed),
            (StepName::ReserveInventory, StepStatus::Failed),
            (StepName::ReleaseInventory, StepStatus::Completed),
            (StepName::CancelOrder, StepStatus::Completed),
            (StepName::NotifyFailure, StepStatus::Completed),
        ]
    );
    stack.record_history(&input.order_id, "out_of_stock").await;
}

#[tokio::test]
async fn a_declined_card_releases_the_stock_and_cancels_the_order() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("decline"), &[("MUG", 3, 1250)], "card_decline");
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert!(
        result
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("declined")
    );
    assert_eq!(stack.stock("MUG").await, (10, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    let order = stack.order(&input.order_id).await;
    assert_eq!(statuses(&order), ["PENDING", "RESERVED", "CANCELLED"]);
    assert_eq!(
        kinds(&stack.notifications(CUSTOMER).await).last(),
        Some(&"order.cancelled")
    );
    let status = stack.status(&input.order_id).await;
    assert_eq!(
        ran(&status),
        [
            (StepName::CreateOrder, StepStatus::Completed),
            (StepName::ReserveInventory, StepStatus::Completed),
            (StepName::ChargePayment, StepStatus::Failed),
            // Refunding a declined charge refunds nothing; it runs because an earlier
            // attempt might have charged.
            (StepName::RefundPayment, StepStatus::Completed),
            (StepName::ReleaseInventory, StepStatus::Completed),
            (StepName::CancelOrder, StepStatus::Completed),
            (StepName::NotifyFailure, StepStatus::Completed),
        ]
    );
    stack.record_history(&input.order_id, "decline").await;
}

#[tokio::test]
async fn transient_payment_failures_are_retried_until_the_charge_succeeds() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("retry"), &[("MUG", 1, 1250)], "card_transient_2");
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.stock("MUG").await, (9, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (1250, 0));
    assert_eq!(
        statuses(&stack.order(&input.order_id).await),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    let status = stack.status(&input.order_id).await;
    let charge = status
        .steps
        .iter()
        .find(|s| s.name == StepName::ChargePayment)
        .expect("charge step");
    assert_eq!(charge.status, StepStatus::Completed);
    // Three charge attempts: two transient failures, then the charge.
    assert_eq!(charge.attempts, 3);
    assert!(
        charge
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("transiently"),
        "{charge:?}"
    );
    let retries = stack
        .notifications(CUSTOMER)
        .await
        .into_iter()
        .filter(|n| n["data"]["status"] == "retrying")
        .count();
    assert_eq!(retries, 2);
    stack
        .record_history(&input.order_id, "retry_then_success")
        .await;
}

#[tokio::test]
async fn a_large_order_that_is_not_approved_in_time_is_cancelled() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let mut input = saga(
        &unique("approval-timeout"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    input.approval.timeout_secs = 2;
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(result.reason.as_deref(), Some("approval timed out"));
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    assert_eq!(
        statuses(&stack.order(&input.order_id).await),
        ["PENDING", "RESERVED", "CANCELLED"]
    );
    let kinds_seen = stack.notifications(CUSTOMER).await;
    let kinds = kinds(&kinds_seen);
    assert!(kinds.contains(&"order.approval_required"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"order.cancelled"));
    let status = stack.status(&input.order_id).await;
    assert_eq!(
        step_status(&status, StepName::AwaitApproval),
        Some(StepStatus::Failed)
    );
    assert_eq!(
        step_status(&status, StepName::ReleaseInventory),
        Some(StepStatus::Completed)
    );
    stack
        .record_history(&input.order_id, "approval_timeout")
        .await;
}

#[tokio::test]
async fn a_large_order_completes_once_a_reviewer_approves() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(
        &unique("approval-granted"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;

    let status = stack.awaiting_approval(&input.order_id).await;
    assert_eq!(status.current_step, Some(StepName::AwaitApproval));
    assert!(status.approval_deadline.is_some());
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    stack
        .decide(&input.order_id, DecisionAction::Approve, None)
        .await
        .expect("the approval is accepted");

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.stock("ESPRESSO").await, (1, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (179_800, 0));
    assert_eq!(
        statuses(&stack.order(&input.order_id).await),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    assert_eq!(
        kinds(&stack.notifications(CUSTOMER).await).last(),
        Some(&"order.completed")
    );
    let status = stack.status(&input.order_id).await;
    assert_eq!(
        step_status(&status, StepName::AwaitApproval),
        Some(StepStatus::Completed)
    );
    assert!(status.approval_deadline.is_none());
    stack
        .record_history(&input.order_id, "approval_granted")
        .await;
}

#[tokio::test]
async fn a_cancellation_before_payment_compensates() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(
        &unique("cancel"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;
    stack.customer_cancels(&input.order_id).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(
        result.reason.as_deref(),
        Some("cancelled by the customer: changed my mind")
    );
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    let order = stack.order(&input.order_id).await;
    assert_eq!(statuses(&order), ["PENDING", "RESERVED", "CANCELLED"]);
    assert_eq!(
        order["cancel_reason"],
        "cancelled by the customer: changed my mind"
    );
    assert_eq!(
        kinds(&stack.notifications(CUSTOMER).await).last(),
        Some(&"order.cancelled")
    );
    stack.record_history(&input.order_id, "cancel").await;
}

#[tokio::test]
async fn the_cancel_signal_names_nobody_and_is_ignored() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(
        &unique("cancel-signal"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;

    // `temporal workflow signal --name cancel`: anyone who reaches Temporal could send it.
    stack.cancel(&input.order_id, "by signal").await;
    let status = eventually(
        Duration::from_secs(30),
        "the saga to note the signal, or to act on it",
        || async {
            let status = stack.status(&input.order_id).await;
            (!status.notes.is_empty() || status.phase != SagaPhase::AwaitingApproval)
                .then_some(status)
        },
    )
    .await;
    assert_eq!(
        status.notes,
        ["ignored: cancel signal, cancellations are the decide update"]
    );
    assert_eq!(status.phase, SagaPhase::AwaitingApproval);
    assert_eq!(stack.stock("ESPRESSO").await, (1, 2));

    // The customer's cancellation, naming them, still applies.
    stack.customer_cancels(&input.order_id).await;
    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    stack
        .record_history(&input.order_id, "cancel_signal_ignored")
        .await;
}

#[tokio::test]
async fn a_cancellation_once_the_charge_is_under_way_is_too_late() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("late-cancel"), &[("MUG", 1, 1250)], "card_slow");
    stack.start_saga(&input).await;
    eventually(
        Duration::from_secs(30),
        "the slow charge to start",
        || async { (stack.calls("payment") > 0).then_some(()) },
    )
    .await;
    let refused = stack
        .decide(&input.order_id, DecisionAction::Cancel, Some("too late"))
        .await
        .expect_err("too late to cancel");
    assert!(
        refused.to_string().contains(refusals::PAYMENT_STARTED),
        "{refused}"
    );

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.ledger(&input.order_id).await, (1250, 0));
    assert_eq!(stack.stock("MUG").await, (9, 0));
    assert_eq!(stack.order(&input.order_id).await["status"], "COMPLETED");
}
