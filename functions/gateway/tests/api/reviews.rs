//! Decisions answered synchronously: a reviewer approves or rejects a large order from
//! the review queue; the customer cancels; a decision that can no longer take effect
//! is refused with the saga's reason (409), and a reviewer never decides their own.

use saga_contract::refusals;
use serde_json::{Value, json};

use crate::support::{As, Stack, wait_for};

const LARGE: &str = "ESPRESSO-PRO";

/// A customer's large order, placed and waiting for review: its id.
async fn order_in_review(customer: &As<'_>, key: &str) -> String {
    order_in_review_paid_with(customer, key, "card_approve").await
}

async fn order_in_review_paid_with(customer: &As<'_>, key: &str, method: &str) -> String {
    let placed = customer
        .order(key, json!([{"sku": LARGE, "quantity": 1}]), method)
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("order id").to_owned();
    wait_for("the order to await review", || async {
        let detail = customer
            .get(&format!("/v1/orders/{order_id}"))
            .await
            .expect(200);
        (detail["saga"]["phase"] == "AWAITING_APPROVAL").then_some(detail)
    })
    .await;
    order_id
}

async fn queued(reviewer: &As<'_>, order_id: &str) -> Option<Value> {
    let queue = reviewer.get("/v1/admin/reviews").await.expect(200);
    queue["items"]
        .as_array()?
        .iter()
        .find(|item| item["order_id"] == order_id)
        .cloned()
}

#[tokio::test]
async fn a_reviewer_approves_a_large_order_from_the_queue_and_it_completes() {
    let stack = Stack::with_worker().await;
    stack.add_product(LARGE, 3, 150_000).await;
    let (customer_id, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    let admin = stack.admin().await;
    let reviewer = As::new(&stack.gateway, &admin);
    // A slow charge keeps the saga running after the approval, so that the second
    // decision below meets a reviewed saga rather than a finished one.
    let order_id = order_in_review_paid_with(&ada, "big-1", "card_slow").await;

    let item = wait_for("the review queue to list the order", || {
        queued(&reviewer, &order_id)
    })
    .await;
    assert_eq!(item["customer_id"], customer_id);
    assert_eq!(item["total"], 150_000);
    assert_eq!(item["lines"][0]["sku"], LARGE);
    assert!(item["deadline"].is_string(), "{item}");

    let reviewer_id = reviewer.get("/v1/me").await.expect(200)["id"].clone();
    let status = reviewer
        .post(&format!("/v1/admin/reviews/{order_id}/approve"), json!({}))
        .await
        .expect(200);
    assert_eq!(status["phase"], "RUNNING");
    let review = status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == "await_approval"))
        .expect("the review step");
    assert_eq!(review["status"], "completed");
    // The saga records who decided, as the gateway authenticated them.
    assert_eq!(
        review["decided_by"],
        json!({"id": reviewer_id, "role": "admin"})
    );
    let again = reviewer
        .post(&format!("/v1/admin/reviews/{order_id}/reject"), json!({}))
        .await
        .expect_problem(409, "decision-refused");
    assert_eq!(again["detail"], refusals::ALREADY_REVIEWED);

    ada.until_completed(&order_id).await;
    let stock = stack
        .services
        .inventory
        .get(&format!("/products/{LARGE}"))
        .await
        .expect(200);
    assert_eq!(stock["available"], 2);
    assert_eq!(queued(&reviewer, &order_id).await, None);
    ada.post(&format!("/v1/orders/{order_id}/cancel"), json!({}))
        .await
        .expect_problem(409, "order-closed");
}

#[tokio::test]
async fn a_rejection_and_a_customers_cancellation_give_the_stock_back() {
    let stack = Stack::with_worker().await;
    stack.add_product(LARGE, 3, 150_000).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    let admin = stack.admin().await;
    let reviewer = As::new(&stack.gateway, &admin);
    let rejected = order_in_review(&ada, "big-1").await;
    let withdrawn = order_in_review(&ada, "big-2").await;

    reviewer
        .post(
            &format!("/v1/admin/reviews/{rejected}/reject"),
            json!({"reason": "address unverified"}),
        )
        .await
        .expect(200);
    let status = ada
        .post(
            &format!("/v1/orders/{withdrawn}/cancel"),
            json!({"reason": "changed my mind"}),
        )
        .await
        .expect(200);
    assert_eq!(status["cancel_requested"], true);
    // A retry of the same cancellation is the same decision.
    ada.post(&format!("/v1/orders/{withdrawn}/cancel"), json!({}))
        .await
        .expect(200);

    for (order_id, reason) in [
        (&rejected, "rejected in review: address unverified"),
        (&withdrawn, "cancelled by the customer: changed my mind"),
    ] {
        let order = wait_for("the order to be cancelled", || async {
            let detail = ada.get(&format!("/v1/orders/{order_id}")).await.expect(200);
            (detail["status"] == "CANCELLED").then_some(detail)
        })
        .await;
        assert_eq!(order["order"]["cancel_reason"], reason);
    }
    let stock = stack
        .services
        .inventory
        .get(&format!("/products/{LARGE}"))
        .await
        .expect(200);
    assert_eq!(
        (stock["available"].clone(), stock["reserved"].clone()),
        (json!(3), json!(0))
    );
}

#[tokio::test]
async fn a_decision_that_cannot_apply_is_refused_with_the_reason() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    stack.add_product(LARGE, 3, 150_000).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    let admin = stack.admin().await;
    let reviewer = As::new(&stack.gateway, &admin);

    // A small order, its charge held (card_slow): not in review, and past cancelling.
    let placed = ada
        .order("small", json!([{"sku": "MUG", "quantity": 1}]), "card_slow")
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("order id");
    wait_for("the charge to start", || async {
        let detail = ada.get(&format!("/v1/orders/{order_id}")).await.expect(200);
        (detail["saga"]["current_step"] == "charge_payment").then_some(detail)
    })
    .await;
    let refused = ada
        .post(&format!("/v1/orders/{order_id}/cancel"), json!({}))
        .await
        .expect_problem(409, "decision-refused");
    assert_eq!(refused["detail"], refusals::PAYMENT_STARTED);
    let refused = reviewer
        .post(&format!("/v1/admin/reviews/{order_id}/approve"), json!({}))
        .await
        .expect_problem(409, "decision-refused");
    assert_eq!(refused["detail"], refusals::NOT_IN_REVIEW);
    ada.until_completed(order_id).await;

    // A reviewer's own large order waits for another reviewer.
    let own = order_in_review(&reviewer, "own").await;
    reviewer
        .post(&format!("/v1/admin/reviews/{own}/approve"), json!({}))
        .await
        .expect_problem(403, "own-order");
    reviewer
        .post(
            &format!("/v1/admin/reviews/{own}/reject"),
            json!({"reason": 7}),
        )
        .await
        .expect_problem(422, "validation-failed");
}
