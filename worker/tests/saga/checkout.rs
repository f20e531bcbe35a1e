//! The checkout's Update-with-Start: the saga starts and its `reservation` update
//! answers once the stock is held, or why not, in one request to Temporal.

use saga_contract::temporal::{OrderSaga as SagaDefinition, Reservation};
use saga_contract::{Outcome, Refusal, ReservationOutcome, SagaInput};
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowUpdateWithStartOptions};

use crate::support::{InProcessWorker, Stack, saga, unique};

async fn checkout(stack: &Stack, input: &SagaInput) -> ReservationOutcome {
    let options = WorkflowUpdateWithStartOptions::new(
        stack.task_queue.clone(),
        input.order_id.clone(),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .update_id(saga_contract::RESERVATION_UPDATE)
    .build();
    stack
        .client
        .execute_update_with_start_workflow(SagaDefinition, input.clone(), Reservation, (), options)
        .await
        .expect("the checkout is answered")
}

#[tokio::test]
async fn a_checkout_learns_whether_its_stock_is_held_in_one_request() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 2, 1250).await;

    let held = saga(&unique("held"), &[("MUG", 2, 1250)], "card_approve");
    let outcome = checkout(&stack, &held).await;
    assert!(outcome.held, "{outcome:?}");
    // A repeat joins the running saga and gets the same answer.
    assert_eq!(checkout(&stack, &held).await, outcome);
    assert_eq!(
        stack.result(&held.order_id).await.outcome,
        Outcome::Completed
    );

    let short = saga(&unique("short"), &[("MUG", 1, 1250)], "card_approve");
    let outcome = checkout(&stack, &short).await;
    assert!(!outcome.held);
    assert_eq!(outcome.refusal, Some(Refusal::OutOfStock));
    let reason = outcome.reason.unwrap_or_default();
    assert!(reason.contains("MUG"), "{reason}");
    let result = stack.result(&short.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(stack.stock("MUG").await, (0, 0));
    stack.record_history(&held.order_id, "checkout_held").await;
    stack
        .record_history(&short.order_id, "checkout_out_of_stock")
        .await;
}

#[tokio::test]
async fn a_customer_at_its_open_order_limit_is_answered_before_any_stock_is_held() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 30, 89_900).await;
    // Large orders wait for review: they stay open.
    let limit = order::CustomerLimits::default().open_orders;
    for i in 0..limit {
        let open = saga(
            &unique(&format!("open-{i}")),
            &[("ESPRESSO", 2, 89_900)],
            "card_approve",
        );
        assert!(checkout(&stack, &open).await.held);
    }

    let refused = saga(
        &unique("over-limit"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    let outcome = checkout(&stack, &refused).await;
    assert!(!outcome.held);
    assert_eq!(outcome.refusal, Some(Refusal::OpenOrderLimit));
    let reason = outcome.reason.unwrap_or_default();
    assert!(reason.contains(&format!("{limit} open orders")), "{reason}");
    let result = stack.result(&refused.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(stack.order(&refused.order_id).await["status"], "CANCELLED");
    let held = 2 * u64::from(limit);
    assert_eq!(stack.stock("ESPRESSO").await, (30 - held, held));
    stack
        .record_history(&refused.order_id, "open_order_limit")
        .await;
}

#[tokio::test]
async fn a_customers_other_open_orders_count_toward_the_review_threshold() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("GRINDER", 5, 60_000).await;
    // The threshold is 100 000: each half alone is below it, both together above. The
    // first half's slow charge keeps it open while the second is placed.
    let first = saga(&unique("half-1"), &[("GRINDER", 1, 60_000)], "card_slow");
    assert!(checkout(&stack, &first).await.held);
    let second = saga(&unique("half-2"), &[("GRINDER", 1, 60_000)], "card_approve");
    assert!(checkout(&stack, &second).await.held);
    stack.awaiting_approval(&second.order_id).await;
    assert_eq!(
        stack.result(&first.order_id).await.outcome,
        Outcome::Completed,
        "alone when it was created, the first half needs no review"
    );
    stack
        .record_history(&second.order_id, "review_of_open_total")
        .await;
}
