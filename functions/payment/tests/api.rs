//! The payment service over HTTP against DynamoDB Local, one fresh table per test.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method};

const SLOW_CARD_DELAY: Duration = Duration::from_millis(300);

async fn payment_service() -> Api {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, payment::TABLE).await;
    testing::spawn(payment::router(client, &config, SLOW_CARD_DELAY)).await
}

fn charge_with(method: &str) -> Value {
    json!({"amount": 3300, "currency": "EUR", "method": method})
}

async fn ledger(api: &Api, order_id: &str) -> Value {
    api.get(&format!("/payments/{order_id}")).await.expect(200)
}

fn totals(ledger: &Value) -> (u64, u64, u64) {
    let get = |field: &str| ledger[field].as_u64().expect(field);
    (get("charged"), get("refunded"), get("balance"))
}

#[tokio::test]
async fn an_approved_charge_is_recorded_once() {
    let api = payment_service().await;
    let charge = api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    assert_eq!(charge["status"], "APPROVED");
    assert_eq!(charge["amount"], 3300);
    let again = api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(200);
    assert_eq!(again, charge);
    let ledger = ledger(&api, "o-1").await;
    assert_eq!(totals(&ledger), (3300, 0, 3300));
    assert_eq!(ledger["charge"], charge);
}

#[tokio::test]
async fn twenty_concurrent_identical_charges_make_one_ledger_entry() {
    let api = payment_service().await;
    let attempts = (0..20).map(|_| {
        let api = api.clone();
        async move {
            api.post("/payments/o-1/charge", charge_with("card_approve"))
                .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    assert_eq!(
        replies.iter().filter(|r| r.status == 201).count(),
        1,
        "{replies:#?}"
    );
    assert_eq!(
        replies.iter().filter(|r| r.status == 200).count(),
        19,
        "{replies:#?}"
    );
    let first = &replies[0].body;
    assert!(replies.iter().all(|r| &r.body == first));
    assert_eq!(totals(&ledger(&api, "o-1").await), (3300, 0, 3300));
}

#[tokio::test]
async fn charging_again_with_another_amount_conflicts() {
    let api = payment_service().await;
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    api.post(
        "/payments/o-1/charge",
        json!({"amount": 1, "currency": "EUR", "method": "card_approve"}),
    )
    .await
    .expect_problem(409, "charge-mismatch");
    assert_eq!(totals(&ledger(&api, "o-1").await), (3300, 0, 3300));
}

#[tokio::test]
async fn a_declined_card_is_declined_every_time_and_charges_nothing() {
    let api = payment_service().await;
    for _ in 0..2 {
        let problem = api
            .post("/payments/o-1/charge", charge_with("card_decline"))
            .await
            .expect_problem(402, "payment-declined");
        assert_eq!(problem["charge"]["status"], "DECLINED");
    }
    let ledger = ledger(&api, "o-1").await;
    assert_eq!(totals(&ledger), (0, 0, 0));
    assert_eq!(ledger["charge"]["status"], "DECLINED");
}

#[tokio::test]
async fn the_decline_mode_declines_a_good_card() {
    let api = payment_service().await;
    api.put("/admin/failure-mode", json!({"mode": "decline"}))
        .await
        .expect(200);
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect_problem(402, "payment-declined");
    api.put("/admin/failure-mode", json!({"mode": "off"}))
        .await
        .expect(200);
    api.post("/payments/o-2/charge", charge_with("card_approve"))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_transient_card_fails_twice_then_is_approved() {
    let api = payment_service().await;
    for _ in 0..2 {
        api.post("/payments/o-1/charge", charge_with("card_transient_2"))
            .await
            .expect_problem(503, "provider-unavailable");
    }
    api.get("/payments/o-1")
        .await
        .expect_problem(404, "not-found");
    api.post("/payments/o-1/charge", charge_with("card_transient_2"))
        .await
        .expect(201);
    assert_eq!(totals(&ledger(&api, "o-1").await), (3300, 0, 3300));
}

#[tokio::test]
async fn a_slow_card_takes_its_delay_then_is_approved() {
    let api = payment_service().await;
    let started = Instant::now();
    api.post("/payments/o-1/charge", charge_with("card_slow"))
        .await
        .expect(201);
    assert!(started.elapsed() >= SLOW_CARD_DELAY);
}

#[tokio::test]
async fn a_refund_returns_the_whole_charge_once() {
    let api = payment_service().await;
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    let refund = api
        .post("/payments/o-1/refund", json!(null))
        .await
        .expect(201);
    assert_eq!(refund["amount"], 3300);
    assert_eq!(
        api.post("/payments/o-1/refund", json!(null))
            .await
            .expect(200),
        refund
    );
    assert_eq!(totals(&ledger(&api, "o-1").await), (3300, 3300, 0));
}

#[tokio::test]
async fn concurrent_refunds_refund_once() {
    let api = payment_service().await;
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    let refunds = (0..10).map(|_| {
        let api = api.clone();
        async move { api.post("/payments/o-1/refund", json!(null)).await }
    });
    let replies = futures::future::join_all(refunds).await;
    assert_eq!(
        replies.iter().filter(|r| r.status == 201).count(),
        1,
        "{replies:#?}"
    );
    assert_eq!(
        replies.iter().filter(|r| r.status == 200).count(),
        9,
        "{replies:#?}"
    );
    assert_eq!(totals(&ledger(&api, "o-1").await), (3300, 3300, 0));
}

#[tokio::test]
async fn a_refund_before_any_charge_voids_the_order() {
    let api = payment_service().await;
    let refund = api
        .post("/payments/o-1/refund", json!(null))
        .await
        .expect(201);
    assert_eq!(refund["amount"], 0);
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect_problem(409, "payment-voided");
    assert_eq!(totals(&ledger(&api, "o-1").await), (0, 0, 0));
}

#[tokio::test]
async fn refunding_a_declined_charge_refunds_nothing() {
    let api = payment_service().await;
    api.post("/payments/o-1/charge", charge_with("card_decline"))
        .await
        .expect_problem(402, "payment-declined");
    let refund = api
        .post("/payments/o-1/refund", json!(null))
        .await
        .expect(201);
    assert_eq!(refund["amount"], 0);
    assert_eq!(totals(&ledger(&api, "o-1").await), (0, 0, 0));
}

#[tokio::test]
async fn an_order_without_payments_has_no_ledger() {
    let api = payment_service().await;
    api.get("/payments/o-1")
        .await
        .expect_problem(404, "not-found");
    api.get("/payments/bad%20id")
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn invalid_charges_are_422_and_charge_nothing() {
    let api = payment_service().await;
    for body in [
        json!({"amount": 0, "currency": "EUR", "method": "card_approve"}),
        json!({"amount": -1, "currency": "EUR", "method": "card_approve"}),
        json!({"amount": 1.5, "currency": "EUR", "method": "card_approve"}),
        json!({"amount": "10", "currency": "EUR", "method": "card_approve"}),
        json!({"amount": 10, "currency": "EU", "method": "card_approve"}),
        json!({"amount": 10, "currency": "EUR", "method": "visa"}),
        json!({"amount": 10, "currency": "EUR", "method": "card_transient_0"}),
        json!({"amount": 10, "currency": "EUR", "method": "card_approve", "tip": 1}),
        json!({"amount": 10, "currency": "EUR"}),
    ] {
        let reply = api.post("/payments/o-1/charge", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    api.post("/payments/bad%20id/charge", charge_with("card_approve"))
        .await
        .expect_problem(422, "validation-failed");
    api.post("/payments/bad%20id/refund", json!(null))
        .await
        .expect_problem(422, "validation-failed");
    api.get("/payments/o-1")
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn unparseable_bodies_are_rejected() {
    let api = payment_service().await;
    api.assert_rejects_unparseable_bodies(Method::POST, "/payments/o-1/charge")
        .await;
    api.get("/payments/o-1")
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn when_down_it_answers_503_and_charges_nothing() {
    let api = payment_service().await;
    api.put("/admin/failure-mode", json!({"mode": "down"}))
        .await
        .expect(200);
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect_problem(503, "service-unavailable");
    api.put("/admin/failure-mode", json!({"mode": "off"}))
        .await
        .expect(200);
    api.get("/payments/o-1")
        .await
        .expect_problem(404, "not-found");
}
