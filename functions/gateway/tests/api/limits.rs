//! Limits per customer, end to end through the saga: open orders and the units they
//! hold are capped (the order service counts them, the saga stops before the stock is
//! held), and a customer's other open orders count toward the review threshold, so a
//! large order split in two is still reviewed.

use serde_json::json;

use crate::support::{As, Stack, wait_for};

/// Above the review threshold (100 000) on its own.
const LARGE: &str = "ESPRESSO-PRO";
/// Below it alone, above it twice.
const MID: &str = "GRINDER";

async fn phase(customer: &As<'_>, order_id: &str) -> String {
    let detail = customer
        .get(&format!("/v1/orders/{order_id}"))
        .await
        .expect(200);
    detail["saga"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_customer_has_at_most_ten_open_orders() {
    let stack = Stack::with_worker().await;
    stack.add_product(LARGE, 20, 150_000).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    // Orders in review stay open.
    for i in 0..10 {
        ada.order(
            &format!("big-{i}"),
            json!([{"sku": LARGE, "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
    }
    let refused = ada
        .order(
            "big-10",
            json!([{"sku": LARGE, "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect_problem(409, "open-order-limit");
    let detail = refused["detail"].as_str().expect("detail");
    assert!(detail.contains("10 open orders"), "{detail}");
    // The refused order holds nothing, and is cancelled with the reason.
    let order_id = refused["order_id"].as_str().expect("order id").to_owned();
    let product = stack
        .gateway
        .get(&format!("/v1/products/{LARGE}"))
        .await
        .expect(200);
    assert_eq!(product["available"], 10);
    let cancelled = wait_for("the refused order to be cancelled", || async {
        let order = ada.get(&format!("/v1/orders/{order_id}")).await.expect(200);
        (order["status"] == "CANCELLED").then_some(order)
    })
    .await;
    assert!(
        cancelled["order"]["cancel_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("open orders")),
        "{cancelled}"
    );
    // Another customer is not limited by this one.
    let (_, tokens) = stack.customer("bob@example.com").await;
    As::new(&stack.gateway, &tokens)
        .order(
            "big-0",
            json!([{"sku": LARGE, "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn an_order_holding_more_units_than_a_customer_may_is_refused() {
    let stack = Stack::with_worker().await;
    let mut lines = Vec::new();
    for i in 0..6 {
        let sku = format!("BULK-{i}");
        stack.add_product(&sku, 100, 10).await;
        lines.push(json!({"sku": sku, "quantity": 100}));
    }
    let (_, tokens) = stack.customer("ada@example.com").await;
    let refused = As::new(&stack.gateway, &tokens)
        .order("bulk", json!(lines), "card_approve")
        .await
        .expect_problem(409, "held-units-limit");
    let detail = refused["detail"].as_str().expect("detail");
    assert!(
        detail.contains("600 units") && detail.contains("500"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_large_order_split_in_two_is_still_reviewed() {
    let stack = Stack::with_worker().await;
    stack.add_product(MID, 10, 60_000).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    // The first half alone needs no review; its slow charge keeps it open while the
    // second half is placed.
    let first = ada
        .order("half-1", json!([{"sku": MID, "quantity": 1}]), "card_slow")
        .await
        .expect(201);
    let second = ada
        .order(
            "half-2",
            json!([{"sku": MID, "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
    let second_id = second["order_id"].as_str().expect("order id").to_owned();
    wait_for("the second half to await review", || async {
        (phase(&ada, &second_id).await == "AWAITING_APPROVAL").then_some(json!(null))
    })
    .await;
    // The first half completes unreviewed: it was alone when it was created.
    ada.until_completed(first["order_id"].as_str().expect("order id"))
        .await;
}
