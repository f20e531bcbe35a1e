//! The payment service over HTTP against DynamoDB Local, one fresh table per test.

use std::time::{Duration, Instant};

use payment::domain::{Charge, PaymentMethod, ProviderOutcome};
use payment::provider::{Provider, ProviderError};
use payment::store::{BeginOutcome, PaymentStore};
use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method};

const SLOW_CARD_DELAY: Duration = Duration::from_millis(300);

/// The service, and the seams under it, over one table: tests play a caller that died
/// midway through them.
struct Payments {
    api: Api,
    store: PaymentStore,
    provider: Provider,
}

async fn payments() -> Payments {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, payment::TABLE).await;
    Payments {
        store: PaymentStore::new(client.clone(), &config.table_name),
        provider: Provider::simulated(client.clone(), &config.table_name, SLOW_CARD_DELAY),
        api: testing::spawn(payment::router(client, &config, SLOW_CARD_DELAY)).await,
    }
}

async fn payment_service() -> Api {
    payments().await.api
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
    testing::assert_created_once(&replies);
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
    api.set_failure_mode("decline").await;
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect_problem(402, "payment-declined");
    api.set_failure_mode("off").await;
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
    testing::assert_created_once(&replies);
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
    // Repeated too: the charge that began beside the refund settled as VOIDED.
    for _ in 0..2 {
        api.post("/payments/o-1/charge", charge_with("card_approve"))
            .await
            .expect_problem(409, "payment-voided");
    }
    let ledger = ledger(&api, "o-1").await;
    assert_eq!(totals(&ledger), (0, 0, 0));
    assert_eq!(ledger["charge"]["status"], "VOIDED");
}

#[tokio::test]
async fn a_charge_captured_before_is_success_for_a_saga_run_again() {
    let api = payment_service().await;
    let first = api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    let again = api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(200);
    assert_eq!(again, first);
    assert_eq!(totals(&ledger(&api, "o-1").await), (3300, 0, 3300));
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
    api.set_failure_mode("down").await;
    api.post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect_problem(503, "service-unavailable");
    api.set_failure_mode("off").await;
    api.get("/payments/o-1")
        .await
        .expect_problem(404, "not-found");
}

impl Payments {
    /// What a caller that died right after recording its charge left behind: a PENDING
    /// charge of 3300 EUR, the provider never asked.
    async fn begin_charge_and_die(&self, order_id: &str, method: PaymentMethod) {
        let pending = Charge::pending(order_id, 3300, "EUR", method, "2024-01-01T00:00:00Z");
        let begun = self.store.begin_charge(&pending).await.expect("store");
        assert!(matches!(begun, BeginOutcome::Recorded(_)), "{begun:?}");
    }

    /// The provider's outcome for a call of the same caller: it got as far as the
    /// provider, and died before settling the ledger.
    async fn charge_at_provider(&self, order_id: &str, method: PaymentMethod) -> ProviderOutcome {
        self.provider
            .charge(order_id, 3300, "EUR", method, true)
            .await
            .expect("provider answers")
    }

    async fn provider_outcome(&self, order_id: &str) -> Option<ProviderOutcome> {
        self.provider.outcome(order_id).await.expect("store")
    }
}

fn charge_id(outcome: &ProviderOutcome) -> &str {
    match outcome {
        ProviderOutcome::Approved { charge } | ProviderOutcome::Declined { charge, .. } => {
            &charge.id
        }
        ProviderOutcome::Voided => panic!("no charge in a voided outcome"),
    }
}

#[tokio::test]
async fn the_provider_called_twice_with_one_key_charges_once() {
    let payments = payments().await;
    let first = payments
        .charge_at_provider("o-1", PaymentMethod::Approve)
        .await;
    let second = payments
        .charge_at_provider("o-1", PaymentMethod::Approve)
        .await;
    assert!(
        matches!(first, ProviderOutcome::Approved { .. }),
        "{first:?}"
    );
    assert_eq!(second, first);
    assert_eq!(payments.provider_outcome("o-1").await, Some(first));
}

#[tokio::test]
async fn concurrent_provider_calls_with_one_key_record_one_outcome() {
    let payments = payments().await;
    // A slow card keeps every call deciding at once; one decision is recorded and
    // every call answers with it.
    let calls = (0..8).map(|_| payments.charge_at_provider("o-1", PaymentMethod::Slow));
    let outcomes = futures::future::join_all(calls).await;
    let recorded = payments.provider_outcome("o-1").await.expect("an outcome");
    assert!(
        outcomes.iter().all(|outcome| outcome == &recorded),
        "{outcomes:#?}"
    );
}

#[tokio::test]
async fn the_simulator_answers_approve_decline_and_slow_cards_with_the_keys_first_outcome() {
    let payments = payments().await;
    for (key, method) in [
        ("o-approve", PaymentMethod::Approve),
        ("o-decline", PaymentMethod::Decline),
        ("o-slow", PaymentMethod::Slow),
    ] {
        let started = Instant::now();
        let first = payments.charge_at_provider(key, method).await;
        if method == PaymentMethod::Slow {
            assert!(started.elapsed() >= SLOW_CARD_DELAY);
        }
        let expected_decline = method == PaymentMethod::Decline;
        assert_eq!(
            matches!(first, ProviderOutcome::Declined { .. }),
            expected_decline,
            "{method}: {first:?}"
        );
        assert_eq!(
            payments.charge_at_provider(key, method).await,
            first,
            "{method}"
        );
    }
}

#[tokio::test]
async fn the_simulator_records_no_outcome_for_transient_failures_then_keeps_its_approval() {
    let payments = payments().await;
    let method = PaymentMethod::Transient(2);
    for _ in 0..2 {
        let failure = payments
            .provider
            .charge("o-1", 3300, "EUR", method, true)
            .await;
        assert!(
            matches!(failure, Err(ProviderError::Unavailable)),
            "{failure:?}"
        );
        assert_eq!(payments.provider_outcome("o-1").await, None);
    }
    let approved = payments.charge_at_provider("o-1", method).await;
    assert!(
        matches!(approved, ProviderOutcome::Approved { .. }),
        "{approved:?}"
    );
    assert_eq!(payments.charge_at_provider("o-1", method).await, approved);
}

#[tokio::test]
async fn the_decline_mode_declines_only_keys_not_decided_yet() {
    let payments = payments().await;
    let approved = payments
        .charge_at_provider("o-1", PaymentMethod::Approve)
        .await;
    let declining = payments.provider.declining(true);
    let charge = |key| declining.charge(key, 3300, "EUR", PaymentMethod::Approve, true);
    assert_eq!(charge("o-1").await.expect("answers"), approved);
    let declined = charge("o-2").await.expect("answers");
    assert!(
        matches!(declined, ProviderOutcome::Declined { .. }),
        "{declined:?}"
    );
    // Out of the mode, the key keeps its decline.
    assert_eq!(
        payments
            .charge_at_provider("o-2", PaymentMethod::Approve)
            .await,
        declined
    );
}

#[tokio::test]
async fn a_voided_key_refuses_later_charges_and_a_decided_key_stays_decided() {
    let payments = payments().await;
    let voided = payments.provider.void("o-1").await.expect("store");
    assert_eq!(voided, ProviderOutcome::Voided);
    assert_eq!(
        payments
            .charge_at_provider("o-1", PaymentMethod::Approve)
            .await,
        ProviderOutcome::Voided
    );
    let approved = payments
        .charge_at_provider("o-2", PaymentMethod::Approve)
        .await;
    assert_eq!(
        payments.provider.void("o-2").await.expect("store"),
        approved
    );
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_after_the_provider_approved_is_captured_once() {
    let payments = payments().await;
    payments
        .begin_charge_and_die("o-1", PaymentMethod::Approve)
        .await;
    let approved = payments
        .charge_at_provider("o-1", PaymentMethod::Approve)
        .await;

    let charge = payments
        .api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    assert_eq!(charge["status"], "APPROVED");
    assert_eq!(charge["provider_charge_id"], charge_id(&approved));
    assert_eq!(
        payments
            .api
            .post("/payments/o-1/charge", charge_with("card_approve"))
            .await
            .expect(200),
        charge
    );
    assert_eq!(payments.provider_outcome("o-1").await, Some(approved));
    assert_eq!(totals(&ledger(&payments.api, "o-1").await), (3300, 0, 3300));
}

#[tokio::test]
async fn concurrent_slow_charges_reach_the_provider_together_and_capture_once() {
    let payments = payments().await;
    let attempts = (0..5).map(|_| {
        let api = payments.api.clone();
        async move {
            api.post("/payments/o-1/charge", charge_with("card_slow"))
                .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    testing::assert_created_once(&replies);
    let first = &replies[0].body;
    assert!(replies.iter().all(|r| &r.body == first), "{replies:#?}");
    let recorded = payments.provider_outcome("o-1").await.expect("an outcome");
    assert_eq!(first["provider_charge_id"], charge_id(&recorded));
    assert_eq!(totals(&ledger(&payments.api, "o-1").await), (3300, 0, 3300));
}

#[tokio::test]
async fn a_pending_charge_counts_as_nothing_charged_and_the_next_attempt_settles_it() {
    let payments = payments().await;
    payments
        .begin_charge_and_die("o-1", PaymentMethod::Approve)
        .await;
    let pending = ledger(&payments.api, "o-1").await;
    assert_eq!(pending["charge"]["status"], "PENDING");
    assert_eq!(totals(&pending), (0, 0, 0));

    let charge = payments
        .api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect(201);
    assert_eq!(charge["status"], "APPROVED");
    let recorded = payments.provider_outcome("o-1").await.expect("an outcome");
    assert_eq!(charge["provider_charge_id"], charge_id(&recorded));
    assert_eq!(totals(&ledger(&payments.api, "o-1").await), (3300, 0, 3300));
}

#[tokio::test]
async fn a_next_attempt_with_other_details_than_a_pending_charge_conflicts_and_charges_nothing() {
    let payments = payments().await;
    payments
        .begin_charge_and_die("o-1", PaymentMethod::Approve)
        .await;
    payments
        .api
        .post(
            "/payments/o-1/charge",
            json!({"amount": 1, "currency": "EUR", "method": "card_approve"}),
        )
        .await
        .expect_problem(409, "charge-mismatch");
    assert_eq!(payments.provider_outcome("o-1").await, None);
}

#[tokio::test]
async fn a_refund_voids_a_pending_charge_no_attempt_came_back_for() {
    let payments = payments().await;
    payments
        .begin_charge_and_die("o-1", PaymentMethod::Approve)
        .await;
    let refund = payments
        .api
        .post("/payments/o-1/refund", json!(null))
        .await
        .expect(201);
    assert_eq!(refund["amount"], 0);
    let voided = ledger(&payments.api, "o-1").await;
    assert_eq!(voided["charge"]["status"], "VOIDED");
    assert_eq!(totals(&voided), (0, 0, 0));

    payments
        .api
        .post("/payments/o-1/charge", charge_with("card_approve"))
        .await
        .expect_problem(409, "payment-voided");
    // A provider call of the dead caller's, arriving late, is refused too.
    assert_eq!(
        payments
            .charge_at_provider("o-1", PaymentMethod::Approve)
            .await,
        ProviderOutcome::Voided
    );
    assert_eq!(totals(&ledger(&payments.api, "o-1").await), (0, 0, 0));
}

#[tokio::test]
async fn a_refund_meeting_a_pending_charge_the_provider_approved_refunds_it_in_full() {
    let payments = payments().await;
    payments
        .begin_charge_and_die("o-1", PaymentMethod::Approve)
        .await;
    let approved = payments
        .charge_at_provider("o-1", PaymentMethod::Approve)
        .await;

    let refund = payments
        .api
        .post("/payments/o-1/refund", json!(null))
        .await
        .expect(201);
    assert_eq!(refund["amount"], 3300);
    let ledger = ledger(&payments.api, "o-1").await;
    assert_eq!(ledger["charge"]["status"], "APPROVED");
    assert_eq!(ledger["charge"]["provider_charge_id"], charge_id(&approved));
    assert_eq!(totals(&ledger), (3300, 3300, 0));
    assert_eq!(
        payments
            .api
            .post("/payments/o-1/refund", json!(null))
            .await
            .expect(200),
        refund
    );
}

#[tokio::test]
async fn a_refund_during_a_slow_charge_voids_it_or_refunds_all_of_it() {
    let payments = payments().await;
    let charging = {
        let api = payments.api.clone();
        tokio::spawn(async move {
            api.post("/payments/o-1/charge", charge_with("card_slow"))
                .await
        })
    };
    payments.until_pending("o-1").await;
    let refund = payments
        .api
        .post("/payments/o-1/refund", json!(null))
        .await
        .expect(201);
    let charge = charging.await.expect("the charge finishes");
    let ledger = ledger(&payments.api, "o-1").await;
    match refund["amount"].as_u64() {
        // Usually the void reaches the provider while it is still processing the slow
        // card: the void wins, the charge is refused and nothing was taken.
        Some(0) => {
            charge.expect_problem(409, "payment-voided");
            assert_eq!(
                payments.provider_outcome("o-1").await,
                Some(ProviderOutcome::Voided)
            );
            assert_eq!(ledger["charge"]["status"], "VOIDED");
            assert_eq!(totals(&ledger), (0, 0, 0));
        }
        // On a machine slow enough that the provider decided first, the refund
        // settled the charge and returned all of it.
        Some(3300) => {
            let charge = charge.body;
            assert_eq!(charge["status"], "APPROVED", "{charge:#}");
            assert_eq!(ledger["charge"], charge);
            assert_eq!(totals(&ledger), (3300, 3300, 0));
        }
        _ => panic!("unexpected refund {refund:#}"),
    }
}

impl Payments {
    /// Waits for the order's charge to be recorded PENDING (its provider call begun).
    async fn until_pending(&self, order_id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (charge, _) = self.store.payments(order_id).await.expect("store");
            if charge.is_some_and(|charge| !charge.is_settled()) {
                return;
            }
            assert!(Instant::now() < deadline, "the charge never became PENDING");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
