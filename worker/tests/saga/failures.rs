//! The saga under failure: lost responses, a worker killed mid-saga, a service down
//! for a while, a compensation that cannot finish.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use saga_contract::{ADMIN_USER, DecisionAction, Outcome, SagaPhase, StepName};
use serde_json::Value;
use tokio::sync::Semaphore;
use worker::breaker::BreakerState;

use crate::support::{
    CUSTOMER, InProcessWorker, Stack, WorkerProcess, Wrap, eventually, hold, saga, statuses, unique,
};

/// Lets the service handle the first matching request, then throws its successful
/// answer away and says 502: the effect happened, the caller does not know it.
fn lose_first_success(
    method: Method,
    path_prefix: &'static str,
    path_suffix: &'static str,
) -> Wrap {
    Box::new(move |router: Router| {
        let lost = Arc::new(AtomicBool::new(false));
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let lost = lost.clone();
            let method = method.clone();
            async move {
                let path = request.uri().path();
                let matches = request.method() == method
                    && path.starts_with(path_prefix)
                    && path.ends_with(path_suffix);
                let response = next.run(request).await;
                if matches && response.status().is_success() && !lost.swap(true, Ordering::SeqCst) {
                    return (StatusCode::BAD_GATEWAY, "response lost").into_response();
                }
                response
            }
        }))
    })
}

#[tokio::test]
async fn activities_re_executed_after_they_succeeded_have_no_double_effect() {
    let wraps = HashMap::from([
        (
            "inventory",
            lose_first_success(Method::PUT, "/reservations/", ""),
        ),
        (
            "payment",
            lose_first_success(Method::POST, "/payments/", "/charge"),
        ),
    ]);
    let stack = Stack::start_with(wraps).await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("re-executed"), &[("MUG", 2, 1250)], "card_approve");
    stack.start_saga(&input).await;

    assert_eq!(
        stack.result(&input.order_id).await.outcome,
        Outcome::Completed
    );
    // Both reservation and charge ran twice at the services...
    assert_eq!(stack.calls("payment"), 2);
    assert_eq!(
        stack.calls("inventory"),
        2 + 1 + 1,
        "the product's creation, the reservation twice, the commit"
    );
    // ...and took effect once.
    assert_eq!(stack.stock("MUG").await, (8, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (2500, 0));
    let status = stack.status(&input.order_id).await;
    for step in [StepName::ReserveInventory, StepName::ChargePayment] {
        let record = status.steps.iter().find(|s| s.name == step).expect("step");
        // The effectful call took two attempts (the first answer was lost).
        assert_eq!(record.attempts, 2, "{record:?}");
    }
}

#[tokio::test]
async fn a_worker_killed_mid_saga_is_replaced_and_effects_happen_exactly_once() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let config = stack.worker_config();
    let mut first = WorkerProcess::start(&config);
    // card_slow keeps the charge in flight for seconds: the kill lands mid-call.
    let input = saga(&unique("sigkill"), &[("MUG", 2, 1250)], "card_slow");
    stack.start_saga(&input).await;
    eventually(
        Duration::from_secs(60),
        "the charge to be in flight",
        || async { (stack.calls("payment") > 0).then_some(()) },
    )
    .await;
    first.kill();

    let _second = WorkerProcess::start(&config);
    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    // The lost charge was retried by the new worker and took effect once.
    assert!(stack.calls("payment") >= 2, "the charge was re-executed");
    assert_eq!(stack.ledger(&input.order_id).await, (2500, 0));
    assert_eq!(stack.stock("MUG").await, (8, 0));
    let order = stack.order(&input.order_id).await;
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    let notifications = stack.notifications(CUSTOMER).await;
    let keys: HashSet<&str> = notifications
        .iter()
        .map(|n| n["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys.len(),
        notifications.len(),
        "no notification recorded twice"
    );
    let completed = notifications
        .iter()
        .filter(|n| n["kind"] == "order.completed")
        .count();
    assert_eq!(completed, 1);
}

/// The first `n` requests of `method` to paths starting with `prefix` answer 503.
fn unavailable_at_first(method: Method, prefix: &'static str, n: usize) -> Wrap {
    Box::new(move |router: Router| {
        let seen = Arc::new(AtomicUsize::new(0));
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let seen = seen.clone();
            let matches = request.method() == method && request.uri().path().starts_with(prefix);
            async move {
                if matches && seen.fetch_add(1, Ordering::SeqCst) < n {
                    return (StatusCode::SERVICE_UNAVAILABLE, "not yet").into_response();
                }
                next.run(request).await
            }
        }))
    })
}

#[tokio::test]
async fn a_local_step_that_fails_its_local_attempts_goes_on_as_a_regular_activity() {
    // Both local attempts fail; the regular activity's first succeeds: the step's third.
    let wraps = HashMap::from([(
        "inventory",
        unavailable_at_first(Method::PUT, "/reservations/", 2),
    )]);
    let stack = Stack::start_with(wraps).await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("gone-remote"), &[("MUG", 1, 1250)], "card_approve");
    stack.start_saga(&input).await;

    assert_eq!(
        stack.result(&input.order_id).await.outcome,
        Outcome::Completed
    );
    assert_eq!(stack.stock("MUG").await, (9, 0));
    let status = stack.status(&input.order_id).await;
    let reserve = status
        .steps
        .iter()
        .find(|s| s.name == StepName::ReserveInventory)
        .expect("step");
    assert_eq!(reserve.attempts, 3, "{reserve:?}");
    let ran = worker::history::activities_run(&stack.history(&input.order_id).await);
    let reserves: Vec<bool> = ran
        .iter()
        .filter(|(activity, _)| activity == "reserve_inventory")
        .map(|(_, local)| *local)
        .collect();
    assert_eq!(reserves, [true, false], "locally first, then on the queue");
    // The customer heard of the retries as they happened: live events in the feed.
    let notifications = stack.notifications(CUSTOMER).await;
    let retries: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["kind"] == "order.step" && n["data"]["status"] == "retrying")
        .collect();
    assert!(!retries.is_empty(), "{notifications:#?}");
    assert!(
        retries
            .iter()
            .all(|n| n["data"]["step"] == "reserve_inventory"),
        "{retries:#?}"
    );
    stack
        .record_history(&input.order_id, "local_step_gone_remote")
        .await;
}

#[tokio::test]
async fn a_worker_killed_during_a_local_activity_is_replaced_and_its_step_takes_effect_once() {
    let gate = Arc::new(Semaphore::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let holding = hold(Method::PUT, "", gate.clone(), arrived.clone());
    let wraps = HashMap::from([("inventory", holding)]);
    let stack = Stack::start_with(wraps).await;
    stack.add_product("MUG", 10, 1250).await;
    let config = stack.worker_config();
    let mut first = WorkerProcess::start(&config);
    let input = saga(&unique("killed-local"), &[("MUG", 2, 1250)], "card_approve");
    stack.start_saga(&input).await;
    eventually(
        Duration::from_secs(60),
        "the reservation to be in flight",
        || async { (arrived.load(Ordering::SeqCst) > 0).then_some(()) },
    )
    .await;
    // The reservation is a local activity of the saga's first workflow task: killed
    // mid-call, the task times out and another worker runs it again.
    first.kill();
    let _second = WorkerProcess::start(&config);
    eventually(
        Duration::from_secs(60),
        "the new worker's reservation",
        || async { (arrived.load(Ordering::SeqCst) > 1).then_some(()) },
    )
    .await;
    gate.add_permits(1_000);

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.stock("MUG").await, (8, 0), "the stock was taken once");
    assert_eq!(stack.ledger(&input.order_id).await, (2500, 0));
    let completed = stack
        .notifications(CUSTOMER)
        .await
        .iter()
        .filter(|n| n["kind"] == "order.completed")
        .count();
    assert_eq!(completed, 1);
}

#[tokio::test]
async fn the_breaker_spares_a_service_that_is_down_and_closes_when_it_is_back() {
    let stack = Stack::start().await;
    let worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 100, 1250).await;
    stack.inventory.set_failure_mode("down").await;
    let calls_before = stack.calls("inventory");

    let orders: Vec<_> = (0..8)
        .map(|i| {
            saga(
                &unique(&format!("breaker-{i}")),
                &[("MUG", 1, 1250)],
                "card_approve",
            )
        })
        .collect();
    for input in &orders {
        stack.start_saga(input).await;
    }
    // Let the outage last: the breaker opens, a probe fails, it opens again, twice.
    eventually(
        Duration::from_secs(60),
        "the breaker to open three times",
        || async {
            let breaker = worker.breaker("inventory");
            (breaker.times_opened >= 3).then_some(())
        },
    )
    .await;
    assert_eq!(worker.breaker("inventory").state, BreakerState::Open);
    let calls_while_down = stack.calls("inventory") - calls_before;
    let mut attempts_while_down = 0;
    for input in &orders {
        let status = stack.status(&input.order_id).await;
        let reserve = status
            .steps
            .iter()
            .find(|s| s.name == StepName::ReserveInventory)
            .expect("reserve step");
        attempts_while_down += reserve.attempts as usize;
    }
    stack.inventory.set_failure_mode("off").await;

    for input in &orders {
        assert_eq!(
            stack.result(&input.order_id).await.outcome,
            Outcome::Completed
        );
    }
    assert_eq!(stack.stock("MUG").await, (92, 0));
    let breaker = worker.breaker("inventory");
    assert_eq!(breaker.state, BreakerState::Closed);
    assert!(
        calls_while_down * 2 <= attempts_while_down,
        "the service got {calls_while_down} calls for {attempts_while_down} attempts"
    );
    stack
        .record_history(&orders[0].order_id, "breaker_open_during_step")
        .await;
}

#[tokio::test]
async fn a_stuck_compensation_alerts_the_admins_and_keeps_trying() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(&unique("stuck"), &[("ESPRESSO", 2, 89_900)], "card_approve");
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;
    // The release will fail until the inventory comes back.
    stack.inventory.set_failure_mode("down").await;
    stack
        .decide(
            &input.order_id,
            DecisionAction::Reject,
            Some("too expensive"),
        )
        .await
        .expect("the rejection is accepted");

    let alert: Value = eventually(Duration::from_secs(90), "an admin alert", || async {
        stack
            .notifications(ADMIN_USER)
            .await
            .into_iter()
            .find(|n| n["kind"] == "saga.compensation_stuck")
    })
    .await;
    assert_eq!(alert["order_id"], input.order_id.as_str());
    assert_eq!(alert["data"]["step"], "release_inventory");
    let status = stack.status(&input.order_id).await;
    assert_eq!(status.phase, SagaPhase::Compensating);

    stack.inventory.set_failure_mode("off").await;
    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(
        result.reason.as_deref(),
        Some("rejected in review: too expensive")
    );
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    assert_eq!(stack.order(&input.order_id).await["status"], "CANCELLED");
    stack
        .record_history(&input.order_id, "compensation_stuck_then_recovered")
        .await;
}
