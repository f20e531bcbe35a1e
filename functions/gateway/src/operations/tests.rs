use std::time::{Duration, SystemTime, UNIX_EPOCH};

use saga_contract::{SagaOutcome, SagaStatus, StepName};
use serde_json::json;

use super::*;
use crate::models::LoadBatch;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn ended(start: u64, end: u64, outcome: Option<SagaOutcome>) -> EndedSaga {
    EndedSaga {
        started: at(start),
        ended: at(end),
        outcome,
    }
}

#[test]
fn ended_sagas_are_counted_in_the_minute_they_ended_by_outcome() {
    // now: 10:02:30 of day 0; a 3-minute window is 10:00, 10:01, 10:02.
    let now = at(10 * 3600 + 150);
    let base = 10 * 3600;
    let sagas = [
        ended(base - 100, base - 10, Some(SagaOutcome::Completed)), // before the window
        ended(base, base + 2, Some(SagaOutcome::Completed)),
        ended(base + 5, base + 9, Some(SagaOutcome::PaymentDeclined)),
        ended(base + 60, base + 61, Some(SagaOutcome::StepFailed)),
        ended(base + 60, base + 90, None),
        ended(base + 125, base + 140, Some(SagaOutcome::Completed)),
    ];
    let minutes = minutes(&sagas, now, 3);
    assert_eq!(minutes.len(), 3);
    assert_eq!(minutes[0].start, "1970-01-01T10:00:00.000Z");
    assert_eq!((minutes[0].completed, minutes[0].payment_declined), (1, 1));
    assert_eq!((minutes[1].step_failed, minutes[1].ended_otherwise), (1, 1));
    assert_eq!(minutes[2].completed, 1);
    assert_eq!(minutes[2].p50_ms, Some(15_000));
    assert_eq!(minutes[0].p95_ms, Some(4_000));
}

#[test]
fn a_minute_without_sagas_has_no_percentiles() {
    let minutes = minutes(&[], at(600), 2);
    assert_eq!(minutes.len(), 2);
    assert_eq!(minutes[1].p50_ms, None);
    assert_eq!(minutes[1].completed, 0);
}

#[test]
fn percentiles_are_values_that_occurred() {
    let values: Vec<u64> = (1..=20).collect();
    assert_eq!(percentile(&values, 50), Some(10));
    assert_eq!(percentile(&values, 95), Some(19));
    assert_eq!(percentile(&values, 100), Some(20));
    assert_eq!(percentile(&[7], 95), Some(7));
    assert_eq!(percentile(&[], 50), None);
}

fn status(attempts: &[(StepName, u32)]) -> SagaStatus {
    let steps: Vec<_> = attempts
        .iter()
        .map(|(name, attempts)| json!({"name": name, "status": "retrying", "attempts": attempts}))
        .collect();
    serde_json::from_value(json!({
        "order_id": "o-1", "customer_id": "c-1", "phase": "RUNNING", "steps": steps
    }))
    .expect("a status")
}

#[test]
fn retries_are_the_attempts_beyond_the_first_per_step_in_saga_order() {
    let statuses = [
        status(&[
            (StepName::ChargePayment, 4),
            (StepName::ReserveInventory, 1),
        ]),
        status(&[
            (StepName::ChargePayment, 2),
            (StepName::ReserveInventory, 3),
        ]),
    ];
    assert_eq!(
        retries(&statuses),
        vec![
            StepRetries {
                step: StepName::ReserveInventory,
                retries: 2
            },
            StepRetries {
                step: StepName::ChargePayment,
                retries: 4
            },
        ]
    );
    assert!(retries(&[status(&[(StepName::ChargePayment, 1)])]).is_empty());
}

fn batch(value: serde_json::Value) -> Result<LoadPlan, Problem> {
    let batch: LoadBatch = serde_json::from_value(value).expect("a batch");
    LoadPlan::parse(batch)
}

#[test]
fn a_batch_is_orders_from_synthetic_customers_with_the_cards_of_the_mix() {
    let plan = batch(json!({
        "run": "r1", "second": 3, "orders": 10, "sku": "MUG-CLASSIC",
        "cards": {"card_approve": 1, "card_decline": 1, "card_slow": 0}
    }))
    .expect("valid");
    assert_eq!(plan.orders.len(), 10);
    assert_eq!(plan.orders[0].key, "load-r1-3-0");
    assert_eq!(plan.orders[0].customer_id, "load-r1-30");
    assert!(
        plan.orders
            .iter()
            .all(|o| o.card == "card_approve" || o.card == "card_decline")
    );
    let again = batch(json!({
        "run": "r1", "second": 3, "orders": 10, "sku": "MUG-CLASSIC",
        "cards": {"card_approve": 1, "card_decline": 1, "card_slow": 0}
    }))
    .expect("valid");
    assert_eq!(
        plan.orders, again.orders,
        "the same batch is the same orders"
    );
}

#[test]
fn a_mix_is_followed_over_a_run() {
    let mut declined = 0;
    for second in 0..MAX_RUN_SECONDS {
        let plan = batch(json!({
            "run": "mix", "second": second, "orders": 10, "sku": "S",
            "cards": {"card_approve": 3, "card_decline": 1}
        }))
        .expect("valid");
        declined += plan
            .orders
            .iter()
            .filter(|o| o.card == "card_decline")
            .count();
    }
    // 600 orders, a quarter declined: well within chance.
    assert!((110..=190).contains(&declined), "{declined}");
}

#[test]
fn a_batch_out_of_bounds_is_refused_with_the_rule() {
    // A valid batch with one field out of bounds.
    let with = |field: &str, value: serde_json::Value| {
        let mut body =
            json!({"run": "r", "second": 0, "orders": 1, "sku": "S", "cards": {"card_approve": 1}});
        body[field] = value;
        body
    };
    let cases = [
        (with("run", json!("")), "`run`"),
        (with("run", json!("a b")), "`run`"),
        (with("second", json!(60)), "`second`"),
        (with("orders", json!(0)), "`orders`"),
        (with("orders", json!(11)), "`orders`"),
        (with("cards", json!({"card_gold": 1})), "card_gold"),
        (with("cards", json!({"card_approve": 101})), "at most 100"),
        (with("cards", json!({"card_approve": 0})), "`cards`"),
        (with("cards", json!({})), "`cards`"),
        (with("sku", json!("no sku")), "sku"),
    ];
    for (body, rule) in cases {
        let problem = batch(body.clone()).expect_err("refused");
        assert_eq!(problem.status, 422, "{body}");
        let detail = problem.detail.clone().unwrap_or_default();
        assert!(detail.contains(rule), "{body}: {detail}");
    }
}
