//! Each customer's open orders are limited in number and in units held, and what the
//! others hold is reported with each creation: counted in once per order however often
//! it is retried, counted out once when it finishes. Against DynamoDB Local.

use order::CustomerLimits;
use serde_json::{Value, json};
use service_kit::testing::{self, Api};

/// Two open orders, 10 units.
const LIMITS: CustomerLimits = CustomerLimits {
    open_orders: 2,
    held_units: 10,
};

async fn order_service() -> Api {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, order::TABLE).await;
    testing::spawn(order::router(client, &config, LIMITS)).await
}

/// An order of `units` mugs at 100 each.
fn mugs(customer_id: &str, units: u32) -> Value {
    json!({
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [{"sku": "MUG", "quantity": units, "unit_price": 100}]
    })
}

async fn cancel(api: &Api, order_id: &str) {
    api.post(
        &format!("/orders/{order_id}/status"),
        json!({"status": "CANCELLED", "reason": "test"}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_customer_has_at_most_its_open_orders_and_a_finished_one_frees_its_place() {
    let api = order_service().await;
    let first = api.put("/orders/o-1", mugs("c-1", 1)).await.expect(201);
    assert_eq!(first["open_elsewhere"], 0);
    let second = api.put("/orders/o-2", mugs("c-1", 2)).await.expect(201);
    assert_eq!(second["open_elsewhere"], 100);

    let refused = api
        .put("/orders/o-3", mugs("c-1", 1))
        .await
        .expect_problem(409, "open-order-limit");
    assert_eq!(refused["open_orders"], 2);
    assert_eq!(refused["max_open_orders"], 2);
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("2 open orders"),
        "{refused}"
    );
    // Another customer is not limited by this one.
    api.put("/orders/o-4", mugs("c-2", 1)).await.expect(201);

    // Completed or cancelled, an order is open no more.
    for status in ["RESERVED", "PAID", "COMPLETED"] {
        api.post("/orders/o-1/status", json!({"status": status}))
            .await
            .expect(200);
    }
    let third = api.put("/orders/o-3", mugs("c-1", 1)).await.expect(200);
    assert_eq!(third["status"], "PENDING");
    assert_eq!(third["open_elsewhere"], 200, "only o-2 is open besides it");
    api.put("/orders/o-5", mugs("c-1", 1))
        .await
        .expect_problem(409, "open-order-limit");
}

#[tokio::test]
async fn units_held_by_open_orders_are_limited() {
    let api = order_service().await;
    api.put("/orders/o-1", mugs("c-1", 7)).await.expect(201);
    let refused = api
        .put("/orders/o-2", mugs("c-1", 4))
        .await
        .expect_problem(409, "held-units-limit");
    assert_eq!(refused["held_units"], 7);
    assert_eq!(refused["max_held_units"], 10);
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("11 units"),
        "{refused}"
    );
    api.put("/orders/o-3", mugs("c-1", 3)).await.expect(201);
    // An order that alone holds more than the limit is refused however often it is sent.
    let other = api
        .put("/orders/o-4", mugs("c-2", 11))
        .await
        .expect_problem(409, "held-units-limit");
    assert_eq!(other["held_units"], 0);
    api.put("/orders/o-4", mugs("c-2", 11))
        .await
        .expect_problem(409, "held-units-limit");
}

#[tokio::test]
async fn a_retried_creation_is_counted_once() {
    let api = order_service().await;
    api.put("/orders/o-1", mugs("c-1", 1)).await.expect(201);
    for _ in 0..3 {
        let again = api.put("/orders/o-1", mugs("c-1", 1)).await.expect(200);
        assert_eq!(again["open_elsewhere"], 0, "itself is not elsewhere");
    }
    // Counted once: the second place is still free.
    api.put("/orders/o-2", mugs("c-1", 1)).await.expect(201);
}

#[tokio::test]
async fn a_repeated_cancellation_counts_the_order_out_once() {
    let api = order_service().await;
    api.put("/orders/o-1", mugs("c-1", 1)).await.expect(201);
    api.put("/orders/o-2", mugs("c-1", 2)).await.expect(201);
    for _ in 0..3 {
        cancel(&api, "o-1").await;
    }
    // Counted out once: o-2 still holds its place and its total.
    let third = api.put("/orders/o-3", mugs("c-1", 1)).await.expect(201);
    assert_eq!(third["open_elsewhere"], 200);
    api.put("/orders/o-4", mugs("c-1", 1))
        .await
        .expect_problem(409, "open-order-limit");
}

#[tokio::test]
async fn a_finished_order_created_again_is_not_counted_again() {
    // What a Temporal reset does: the saga runs again from its start.
    let api = order_service().await;
    api.put("/orders/o-1", mugs("c-1", 1)).await.expect(201);
    cancel(&api, "o-1").await;
    let again = api.put("/orders/o-1", mugs("c-1", 1)).await.expect(200);
    assert_eq!(again["status"], "CANCELLED");
    api.put("/orders/o-2", mugs("c-1", 1)).await.expect(201);
    api.put("/orders/o-3", mugs("c-1", 1)).await.expect(201);
}

#[tokio::test]
async fn concurrent_creations_never_pass_the_limit() {
    let api = order_service().await;
    let attempts = (0..12).map(|i| {
        let api = api.clone();
        async move { api.put(&format!("/orders/o-{i}"), mugs("c-1", 1)).await }
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!((created, refused), (2, 10));
}

#[tokio::test]
async fn a_refused_order_exists_pending_until_its_saga_cancels_it() {
    let api = order_service().await;
    api.put("/orders/o-1", mugs("c-1", 1)).await.expect(201);
    api.put("/orders/o-2", mugs("c-1", 1)).await.expect(201);
    api.put("/orders/o-3", mugs("c-1", 1))
        .await
        .expect_problem(409, "open-order-limit");
    assert_eq!(
        api.get("/orders/o-3").await.expect(200)["status"],
        "PENDING"
    );
    // Its cancellation counts nothing out: it was never counted in.
    cancel(&api, "o-3").await;
    api.put("/orders/o-4", mugs("c-1", 1))
        .await
        .expect_problem(409, "open-order-limit");
}
