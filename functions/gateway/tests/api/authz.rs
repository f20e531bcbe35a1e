//! Object-level authorization: customers see and act on their own things only.

use serde_json::json;

use crate::support::{As, Stack};

#[tokio::test]
async fn a_customer_cannot_read_cancel_or_review_another_customers_order() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, alice) = stack.customer("alice@example.com").await;
    let (_, bob) = stack.customer("bob@example.com").await;
    let alice = As::new(&stack.gateway, &alice);
    let bob = As::new(&stack.gateway, &bob);

    let placed = alice
        .order(
            "k-1",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("order id");
    let detail = alice
        .get(&format!("/v1/orders/{order_id}"))
        .await
        .expect(200);
    assert_eq!(detail["order_id"], order_id);

    bob.get(&format!("/v1/orders/{order_id}"))
        .await
        .expect_problem(404, "not-found");
    bob.post(&format!("/v1/orders/{order_id}/cancel"), json!({}))
        .await
        .expect_problem(404, "not-found");
    // Reviews are staff's: a customer may not approve or reject any order.
    for action in ["approve", "reject"] {
        bob.post(&format!("/v1/admin/reviews/{order_id}/{action}"), json!({}))
            .await
            .expect_problem(403, "forbidden");
    }
    let bobs_orders = bob.get("/v1/orders").await.expect(200);
    assert_eq!(bobs_orders["items"], json!([]));
}

#[tokio::test]
async fn admin_routes_need_an_admin() {
    let stack = Stack::start().await;
    let (_, customer) = stack.customer("ada@example.com").await;
    let customer = As::new(&stack.gateway, &customer);
    customer
        .get("/v1/admin/services/inventory/failure-mode")
        .await
        .expect_problem(403, "forbidden");
    customer
        .post(
            "/v1/admin/products",
            json!({"sku": "X", "name": "X", "price": 1, "currency": "EUR", "available": 1}),
        )
        .await
        .expect_problem(403, "forbidden");
    stack
        .gateway
        .get("/v1/admin/services/inventory/failure-mode")
        .await
        .expect_problem(401, "unauthorized");
    stack
        .gateway
        .get("/v1/me")
        .await
        .expect_problem(401, "unauthorized");

    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    assert_eq!(
        admin
            .get("/v1/admin/services/inventory/failure-mode")
            .await
            .expect(200)["mode"],
        "off"
    );
    let down = admin
        .send(
            service_kit::testing::Method::PUT,
            "/v1/admin/services/payment/failure-mode",
            Some(json!({"mode": "decline"})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(down["mode"], "decline");
    admin
        .get("/v1/admin/services/warehouse/failure-mode")
        .await
        .expect_problem(404, "not-found");
    let created = admin
        .post(
            "/v1/admin/products",
            json!({"sku": "NEW-1", "name": "New", "price": 500, "currency": "EUR", "available": 3}),
        )
        .await
        .expect(201);
    assert_eq!(created["available"], 3);
    assert!(
        created.get("reserved").is_none(),
        "internal counters stay internal"
    );
}
