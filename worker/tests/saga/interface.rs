//! The saga against what Temporal's own tools and a misbehaving transport send it:
//! cancellation requests (the Web UI's Cancel button), malformed and unknown signals,
//! unknown queries, workflows the worker does not know, answers that are neither
//! success nor a business refusal, and SIGTERM with sagas in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use saga_contract::{DecisionAction, Outcome, Refusal, SagaPhase, StepName, StepStatus};
use serde_json::Value;
use service_kit::payload_codec::test_payload;
use temporalio_client::{WorkflowCancelOptions, WorkflowQueryOptions, WorkflowSignalOptions};
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::{
    HasWorkflowDefinition, QueryDefinition, SignalDefinition, WorkflowDefinition,
};
use tokio::sync::Semaphore;
use worker::workflow::{OPERATOR_CANCELLATION, OrderSaga};

use crate::support::{
    CUSTOMER, InProcessWorker, Stack, WorkerProcess, Wrap, eventually, hold, saga, unique,
};

type SagaRun = <OrderSaga as HasWorkflowDefinition>::Run;

/// A signal by name, with raw payloads: what `temporal workflow signal` sends.
struct RawSignal(&'static str);

impl SignalDefinition for RawSignal {
    type Workflow = SagaRun;
    type Input = RawValue;
    fn name(&self) -> &str {
        self.0
    }
}

/// A query by name.
struct RawQuery(&'static str);

impl QueryDefinition for RawQuery {
    type Workflow = SagaRun;
    type Input = ();
    type Output = Value;
    fn name(&self) -> &str {
        self.0
    }
}

/// A workflow type no worker registers.
struct NoSuchWorkflow;

impl WorkflowDefinition for NoSuchWorkflow {
    type Input = ();
    type Output = ();
    fn name(&self) -> &str {
        "NoSuchWorkflow"
    }
}

impl HasWorkflowDefinition for NoSuchWorkflow {
    type Run = Self;
}

fn json_payload(text: &str) -> Payload {
    test_payload("json/plain", text.as_bytes())
}

async fn send_raw(stack: &Stack, order_id: &str, signal: &'static str, payloads: Vec<Payload>) {
    stack
        .client
        .get_workflow_handle::<OrderSaga>(order_id)
        .signal(
            RawSignal(signal),
            RawValue::new(payloads),
            WorkflowSignalOptions::default(),
        )
        .await
        .expect("the server accepts any signal");
}

/// The Temporal API's cancellation request: what the Web UI's Cancel button sends.
async fn cancel_through_temporal(stack: &Stack, order_id: &str) {
    stack
        .client
        .get_workflow_handle::<OrderSaga>(order_id)
        .cancel(WorkflowCancelOptions::default())
        .await
        .expect("request cancellation");
}

fn kinds_for(notifications: &[Value], order_id: &str) -> Vec<String> {
    notifications
        .iter()
        .filter(|n| n["order_id"] == order_id)
        .map(|n| n["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn step(status: &saga_contract::SagaStatus, name: StepName) -> saga_contract::StepRecord {
    status
        .steps
        .iter()
        .rev()
        .find(|s| s.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name:?} step in {status:?}"))
}

fn matches(request: &Request, method: &Method, suffix: &str) -> bool {
    request.method() == method
        && request.uri().path().starts_with("/payments/")
        && request.uri().path().ends_with(suffix)
}

fn forbidden() -> Response {
    // What a function URL answers an unsigned or badly signed request: no problem type.
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"Message":"Forbidden"}"#,
    )
        .into_response()
}

#[tokio::test]
async fn a_temporal_cancellation_during_the_charge_compensates_while_other_orders_complete() {
    let stack = Stack::start().await;
    let worker = WorkerProcess::start(&stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    // card_slow keeps the charge in flight for 3 s.
    let cancelled = saga(&unique("op-cancel"), &[("MUG", 2, 1250)], "card_slow");
    stack.start_saga(&cancelled).await;
    eventually(
        Duration::from_secs(60),
        "the charge to be in flight",
        || async { (stack.calls("payment") > 0).then_some(()) },
    )
    .await;
    let cpu_before = worker.cpu_time();
    let wall = Instant::now();
    cancel_through_temporal(&stack, &cancelled.order_id).await;
    let other = saga(&unique("after-cancel"), &[("MUG", 1, 1250)], "card_approve");
    stack.start_saga(&other).await;

    let result = stack.result(&cancelled.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(result.reason.as_deref(), Some(OPERATOR_CANCELLATION));
    assert_eq!(
        stack.result(&other.order_id).await.outcome,
        Outcome::Completed
    );
    let busy = worker.cpu_time().saturating_sub(cpu_before).as_secs_f64();
    let elapsed = wall.elapsed().as_secs_f64();
    assert!(
        busy < 0.5 * elapsed,
        "the worker used {busy:.1} s of CPU in {elapsed:.1} s"
    );

    // The charge in flight finished, and was refunded; the stock is back.
    let (charged, refunded) = stack.ledger(&cancelled.order_id).await;
    assert_eq!(charged, refunded, "charged {charged}, refunded {refunded}");
    assert_eq!(
        stack.stock("MUG").await,
        (9, 0),
        "only the other order sold"
    );
    let order = stack.order(&cancelled.order_id).await;
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(order["cancel_reason"], OPERATOR_CANCELLATION);
    let kinds = kinds_for(&stack.notifications(CUSTOMER).await, &cancelled.order_id);
    assert_eq!(
        kinds.iter().filter(|k| *k == "order.cancelled").count(),
        1,
        "{kinds:?}"
    );
    let status = stack.status(&cancelled.order_id).await;
    assert_eq!(status.phase, SagaPhase::Cancelled);
    assert_eq!(
        step(&status, StepName::RefundPayment).status,
        StepStatus::Completed
    );
    assert_eq!(
        step(&status, StepName::ReleaseInventory).status,
        StepStatus::Completed
    );
    stack
        .record_history(&cancelled.order_id, "operator_cancel_during_charge")
        .await;
}

#[tokio::test]
async fn a_temporal_cancellation_after_the_capture_lets_the_order_complete() {
    let gate = Arc::new(Semaphore::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let holding = hold(Method::POST, "/commit", gate.clone(), arrived.clone());
    let wraps = HashMap::from([("inventory", holding)]);
    let stack = Stack::start_with(wraps).await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(
        &unique("late-op-cancel"),
        &[("MUG", 1, 1250)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    // The commit comes after the capture: the cancellation arrives while it waits.
    eventually(
        Duration::from_secs(60),
        "the commit to be in flight",
        || async { (arrived.load(Ordering::SeqCst) > 0).then_some(()) },
    )
    .await;
    cancel_through_temporal(&stack, &input.order_id).await;
    gate.add_permits(1_000);

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.ledger(&input.order_id).await, (1250, 0));
    assert_eq!(stack.stock("MUG").await, (9, 0));
    assert_eq!(stack.order(&input.order_id).await["status"], "COMPLETED");
    stack
        .record_history(&input.order_id, "operator_cancel_after_capture")
        .await;
}

#[tokio::test]
async fn a_temporal_cancellation_while_awaiting_approval_compensates() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let input = saga(
        &unique("op-cancel-approval"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;
    cancel_through_temporal(&stack, &input.order_id).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(result.reason.as_deref(), Some(OPERATOR_CANCELLATION));
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    assert_eq!(stack.order(&input.order_id).await["status"], "CANCELLED");
}

#[tokio::test]
async fn malformed_and_unknown_input_is_noted_and_dropped_and_the_saga_goes_on() {
    let stack = Stack::start().await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("ESPRESSO", 5, 89_900).await;
    let approved = saga(
        &unique("malformed"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    let mut timed_out = saga(
        &unique("malformed-timeout"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    timed_out.approval.timeout_secs = 4;
    stack.start_saga(&approved).await;
    stack.start_saga(&timed_out).await;
    stack.awaiting_approval(&approved.order_id).await;

    for order_id in [&approved.order_id, &timed_out.order_id] {
        // `temporal workflow signal --name approve --input '"garbage"'`
        send_raw(
            &stack,
            order_id,
            "approve",
            vec![json_payload(r#""garbage""#)],
        )
        .await;
        send_raw(
            &stack,
            order_id,
            "approve",
            vec![test_payload("binary/plain", &[0xff])],
        )
        .await;
        send_raw(
            &stack,
            order_id,
            "reject",
            vec![json_payload(r#"{"reason": 7}"#)],
        )
        .await;
        send_raw(
            &stack,
            order_id,
            "cancel",
            vec![json_payload("{}"), json_payload("{}")],
        )
        .await;
        send_raw(&stack, order_id, "attempt_failed", vec![json_payload("[]")]).await;
        send_raw(&stack, order_id, "approve_now", vec![json_payload("true")]).await;
    }
    let handle = stack
        .client
        .get_workflow_handle::<OrderSaga>(approved.order_id.as_str());
    let unknown = handle
        .query(
            RawQuery("no_such_query"),
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .expect_err("an unknown query is an error");
    assert!(unknown.to_string().contains("no_such_query"), "{unknown}");

    // Still answering, still waiting, with the bad input noted.
    let status = stack.status(&approved.order_id).await;
    assert_eq!(status.phase, SagaPhase::AwaitingApproval);
    assert_eq!(
        status.notes,
        [
            "ignored: invalid approve payload",
            "ignored: invalid approve payload",
            "ignored: invalid reject payload",
            "ignored: invalid cancel payload",
            "ignored: invalid attempt_failed payload",
        ]
    );
    stack
        .decide(&approved.order_id, DecisionAction::Approve, None)
        .await
        .expect("the approval is accepted");
    let result = stack.result(&approved.order_id).await;
    assert_eq!(result.outcome, Outcome::Completed);
    assert_eq!(stack.ledger(&approved.order_id).await, (179_800, 0));

    // The other one's timer still fires: it times out and gives its stock back.
    let result = stack.result(&timed_out.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(result.reason.as_deref(), Some("approval timed out"));
    assert_eq!(stack.stock("ESPRESSO").await, (3, 0));
    assert_eq!(stack.ledger(&timed_out.order_id).await, (0, 0));
    stack
        .record_history(&approved.order_id, "malformed_signals")
        .await;
}

/// The charge's first attempt succeeds but its answer is lost (502); the second gets a
/// 403 from the front door; the third a refusal. The effect of the first must still be
/// compensated.
fn charge_lost_then_forbidden_then_declined() -> Wrap {
    Box::new(|router: Router| {
        let attempts = Arc::new(AtomicUsize::new(0));
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let attempts = attempts.clone();
            async move {
                if !matches(&request, &Method::POST, "/charge") {
                    return next.run(request).await;
                }
                match attempts.fetch_add(1, Ordering::SeqCst) {
                    0 => {
                        let _charged = next.run(request).await;
                        (StatusCode::BAD_GATEWAY, "response lost").into_response()
                    }
                    1 => forbidden(),
                    _ => service_kit::Problem::new(
                        StatusCode::PAYMENT_REQUIRED,
                        "payment-declined",
                        "Payment declined",
                    )
                    .into_response(),
                }
            }
        }))
    })
}

#[tokio::test]
async fn a_charge_refused_after_an_attempt_that_charged_is_refunded() {
    let wraps = HashMap::from([("payment", charge_lost_then_forbidden_then_declined())]);
    let stack = Stack::start_with(wraps).await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(
        &unique("lost-then-refused"),
        &[("MUG", 2, 1250)],
        "card_approve",
    );
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert_eq!(stack.ledger(&input.order_id).await, (2500, 2500));
    assert_eq!(stack.stock("MUG").await, (10, 0));
    let status = stack.status(&input.order_id).await;
    let charge = step(&status, StepName::ChargePayment);
    assert_eq!(charge.status, StepStatus::Failed);
    assert_eq!(charge.attempts, 3, "the 403 was retried: {charge:?}");
    assert_eq!(
        step(&status, StepName::RefundPayment).status,
        StepStatus::Completed
    );
}

/// The first `n` refunds get a 403 without reaching the service.
fn refund_forbidden(n: usize) -> Wrap {
    Box::new(move |router: Router| {
        let seen = Arc::new(AtomicUsize::new(0));
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let seen = seen.clone();
            async move {
                if matches(&request, &Method::POST, "/refund")
                    && seen.fetch_add(1, Ordering::SeqCst) < n
                {
                    return forbidden();
                }
                next.run(request).await
            }
        }))
    })
}

#[tokio::test]
async fn a_refund_forbidden_three_times_keeps_retrying_and_completes() {
    let wraps = HashMap::from([("payment", refund_forbidden(3))]);
    let stack = Stack::start_with(wraps).await;
    let _worker = InProcessWorker::start(stack.worker_config());
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("refund-403"), &[("MUG", 1, 1250)], "card_decline");
    stack.start_saga(&input).await;

    let result = stack.result(&input.order_id).await;
    assert_eq!(result.outcome, Outcome::Cancelled);
    let status = stack.status(&input.order_id).await;
    let refund = step(&status, StepName::RefundPayment);
    assert_eq!(refund.status, StepStatus::Completed);
    assert_eq!(refund.attempts, 4, "{refund:?}");
    assert_eq!(stack.ledger(&input.order_id).await, (0, 0));
    assert_eq!(stack.stock("MUG").await, (10, 0));
    assert_eq!(stack.order(&input.order_id).await["status"], "CANCELLED");
}

#[tokio::test]
async fn sigterm_stops_a_worker_with_sagas_in_flight_within_its_grace_period() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let config = stack.worker_config();
    let mut first = WorkerProcess::start(&config);
    let orders: Vec<_> = (0..3)
        .map(|i| {
            saga(
                &unique(&format!("sigterm-{i}")),
                &[("MUG", 1, 1250)],
                "card_slow",
            )
        })
        .collect();
    for input in &orders {
        stack.start_saga(input).await;
    }
    eventually(
        Duration::from_secs(60),
        "the charges to be in flight",
        || async { (stack.calls("payment") >= 3).then_some(()) },
    )
    .await;

    let grace = worker::GRACEFUL_SHUTDOWN;
    let stopped = first.terminate(grace + Duration::from_secs(1));
    assert!(stopped.is_some(), "still running {grace:?} after SIGTERM");

    // Whatever the first worker left, a second one finishes, each effect once.
    let _second = WorkerProcess::start(&config);
    for input in &orders {
        assert_eq!(
            stack.result(&input.order_id).await.outcome,
            Outcome::Completed
        );
        assert_eq!(stack.ledger(&input.order_id).await, (1250, 0));
    }
    assert_eq!(stack.stock("MUG").await, (7, 0));
}

#[tokio::test]
async fn failing_workflow_tasks_and_unknown_signals_are_logged_with_the_workflow_id() {
    let stack = Stack::start().await;
    stack.add_product("ESPRESSO", 3, 89_900).await;
    let log = std::env::temp_dir().join(format!("{}.log", unique("worker")));
    let _worker = WorkerProcess::start_logging_to(&stack.worker_config(), &log);

    let stray = unique("stray");
    stack
        .client
        .start_workflow(
            NoSuchWorkflow,
            (),
            temporalio_client::WorkflowStartOptions::new(stack.task_queue.clone(), stray.clone())
                .build(),
        )
        .await
        .expect("start a workflow of an unknown type");
    let input = saga(
        &unique("unknown-signal"),
        &[("ESPRESSO", 2, 89_900)],
        "card_approve",
    );
    stack.start_saga(&input).await;
    stack.awaiting_approval(&input.order_id).await;
    send_raw(
        &stack,
        &input.order_id,
        "approve_now",
        vec![json_payload("true")],
    )
    .await;

    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually(Duration::from_secs(30), "both log lines", || async {
        let text = read();
        let failed = text.lines().any(|line| {
            line.contains("ERROR") && line.contains("workflow task failed") && line.contains(&stray)
        });
        let ignored = text.lines().any(|line| {
            line.contains("WARN")
                && line.contains("ignored a signal the saga does not know")
                && line.contains(&input.order_id)
                && line.contains("approve_now")
        });
        (failed && ignored).then_some(())
    })
    .await;
    let _ = std::fs::remove_file(&log);
    stack
        .client
        .get_workflow_handle::<NoSuchWorkflow>(stray.as_str())
        .terminate(temporalio_client::WorkflowTerminateOptions::default())
        .await
        .expect("terminate the stray workflow");
}

#[tokio::test]
async fn only_the_services_business_refusals_are_final() {
    use worker::breaker::CircuitBreaker;
    use worker::services::{CallError, ServiceClient};

    let stack = Stack::start().await;
    stack.add_product("MUG", 1, 1250).await;
    let client = |api: &service_kit::testing::Api, name: &'static str| {
        let breaker = Arc::new(CircuitBreaker::new(name, stack.breaker));
        ServiceClient::new(&api.base_url, reqwest::Client::new(), breaker, None)
    };
    let inventory = client(&stack.inventory, "inventory");
    let order = client(&stack.order, "order");
    let payment = client(&stack.payment, "payment");
    type Ignored = serde::de::IgnoredAny;
    let refused = |result: Result<(), CallError>| match result {
        Err(CallError::Refused { kind, .. }) => kind,
        other => panic!("expected a refusal, got {other:?}"),
    };

    let too_many = serde_json::json!({"lines": [{"sku": "MUG", "quantity": 5}]});
    let none = serde_json::json!({"lines": [{"sku": "MUG", "quantity": 0}]});
    assert_eq!(
        refused(inventory.put("/reservations/o-1", &too_many).await),
        Refusal::OutOfStock
    );
    assert_eq!(
        refused(inventory.put("/reservations/o-2", &none).await),
        Refusal::ValidationFailed
    );
    let charge = |amount: u64, method: &str| serde_json::json!({"amount": amount, "currency": "EUR", "method": method});
    assert_eq!(
        refused(
            payment
                .post("/payments/o-3/charge", Some(&charge(100, "card_decline")))
                .await
        ),
        Refusal::PaymentDeclined
    );
    payment
        .post("/payments/o-4/charge", Some(&charge(100, "card_approve")))
        .await
        .expect("a charge");
    assert_eq!(
        refused(
            payment
                .post("/payments/o-4/charge", Some(&charge(999, "card_approve")))
                .await
        ),
        Refusal::ChargeMismatch
    );

    // The service's own "no such order" is an answer, but not a refusal.
    let missing = order.get::<Ignored>("/orders/no-such-order").await;
    assert!(
        matches!(&missing, Err(error) if error.is_not_found()),
        "{missing:?}"
    );
    stack.order.set_failure_mode("down").await;
    let down = order.get::<Ignored>("/orders/no-such-order").await;
    assert!(
        matches!(down, Err(CallError::Unavailable { .. })),
        "{down:?}"
    );
}

#[tokio::test]
async fn the_timeline_and_the_feed_name_the_failing_service_but_never_its_address() {
    let stack = Stack::start().await;
    let mut config = stack.worker_config();
    // Nothing listens there: every charge attempt fails to connect.
    config
        .services
        .insert("payment", "http://127.0.0.1:9/internal-payments".to_owned());
    let _worker = InProcessWorker::start(config);
    stack.add_product("MUG", 10, 1250).await;
    let input = saga(&unique("no-address"), &[("MUG", 1, 1250)], "card_approve");
    stack.start_saga(&input).await;

    let charge = eventually(Duration::from_secs(60), "a retried charge", || async {
        let status = stack.status(&input.order_id).await;
        status
            .steps
            .into_iter()
            .find(|s| s.name == StepName::ChargePayment && s.status == StepStatus::Retrying)
    })
    .await;
    assert_eq!(charge.last_error.as_deref(), Some("payment is unavailable"));
    let feed = stack.notifications(CUSTOMER).await.to_vec();
    let text = serde_json::to_string(&feed).expect("json");
    assert!(text.contains("payment is unavailable"), "{text}");
    for internal in ["127.0.0.1", "internal-payments", "error sending request"] {
        assert!(
            !text.contains(internal),
            "{internal} reached the customer: {text}"
        );
    }
}
