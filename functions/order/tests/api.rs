//! The order service over HTTP against DynamoDB Local, one fresh table per test.

use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method};

async fn order_service() -> Api {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, order::TABLE).await;
    testing::spawn(order::router(
        client,
        &config,
        order::CustomerLimits::default(),
    ))
    .await
}

fn new_order(customer_id: &str) -> Value {
    json!({
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [
            {"sku": "MUG", "quantity": 2, "unit_price": 1250},
            {"sku": "TEA", "quantity": 1, "unit_price": 800}
        ]
    })
}

async fn create(api: &Api, order_id: &str, customer_id: &str) -> Value {
    api.put(&format!("/orders/{order_id}"), new_order(customer_id))
        .await
        .expect(201)
}

async fn move_to(api: &Api, order_id: &str, status: &str) -> Value {
    api.post(
        &format!("/orders/{order_id}/status"),
        json!({"status": status}),
    )
    .await
    .expect(200)
}

fn statuses(order: &Value) -> Vec<&str> {
    testing::each_str(&order["history"], "status")
}

#[tokio::test]
async fn an_order_is_created_pending_with_its_total() {
    let api = order_service().await;
    let order = create(&api, "o-1", "c-1").await;
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["total"], 2 * 1250 + 800);
    assert_eq!(statuses(&order), ["PENDING"]);
    // The creation's answer adds what the customer's other open orders hold.
    assert_eq!(order["open_elsewhere"], 0);
    let mut stored = order.clone();
    stored
        .as_object_mut()
        .expect("order")
        .remove("open_elsewhere");
    assert_eq!(api.get("/orders/o-1").await.expect(200), stored);
}

#[tokio::test]
async fn creating_an_order_again_returns_it_and_other_details_conflict() {
    let api = order_service().await;
    let order = create(&api, "o-1", "c-1").await;
    let again = api.put("/orders/o-1", new_order("c-1")).await.expect(200);
    assert_eq!(again, order);
    api.put("/orders/o-1", new_order("c-2"))
        .await
        .expect_problem(409, "order-mismatch");
}

#[tokio::test]
async fn concurrent_creations_of_one_order_write_it_once() {
    let api = order_service().await;
    let attempts = (0..20).map(|_| {
        let api = api.clone();
        async move { api.put("/orders/o-1", new_order("c-1")).await }
    });
    let replies = futures::future::join_all(attempts).await;
    testing::assert_created_once(&replies);
    let page = api.get("/customers/c-1/orders").await.expect(200);
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn the_happy_path_records_every_status_in_order() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    move_to(&api, "o-1", "RESERVED").await;
    move_to(&api, "o-1", "PAID").await;
    let order = move_to(&api, "o-1", "COMPLETED").await;
    assert_eq!(order["status"], "COMPLETED");
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    let times = testing::each_str(&order["history"], "at");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn a_repeated_transition_changes_nothing() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    let moves = (0..10).map(|_| {
        let api = api.clone();
        async move {
            api.post("/orders/o-1/status", json!({"status": "RESERVED"}))
                .await
        }
    });
    for reply in futures::future::join_all(moves).await {
        assert_eq!(reply.expect(200)["status"], "RESERVED");
    }
    let order = api.get("/orders/o-1").await.expect(200);
    assert_eq!(statuses(&order), ["PENDING", "RESERVED"]);
}

#[tokio::test]
async fn an_order_passes_through_paid_and_completes_in_one_write() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    move_to(&api, "o-1", "RESERVED").await;
    let completed = json!({"status": "COMPLETED", "via": ["PAID"]});
    let order = api
        .post("/orders/o-1/status", completed.clone())
        .await
        .expect(200);
    assert_eq!(order["status"], "COMPLETED");
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    // Repeated, or from partway along (an order a saga of an older version made PAID).
    api.post("/orders/o-1/status", completed.clone())
        .await
        .expect(200);
    create(&api, "o-2", "c-1").await;
    move_to(&api, "o-2", "RESERVED").await;
    move_to(&api, "o-2", "PAID").await;
    let order = api.post("/orders/o-2/status", completed).await.expect(200);
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    let order = api.get("/orders/o-1").await.expect(200);
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
}

#[tokio::test]
async fn a_status_the_order_has_had_is_success_for_a_saga_run_again() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    move_to(&api, "o-1", "RESERVED").await;
    move_to(&api, "o-1", "PAID").await;
    move_to(&api, "o-1", "COMPLETED").await;
    // A Temporal reset runs the saga from its start: each step finds its effect.
    let order = move_to(&api, "o-1", "RESERVED").await;
    assert_eq!(order["status"], "COMPLETED");
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "COMPLETED"]
    );
    // A status the order never had is still refused.
    api.post(
        "/orders/o-1/status",
        json!({"status": "CANCELLED", "reason": "late"}),
    )
    .await
    .expect_problem(409, "invalid-transition");
}

#[tokio::test]
async fn a_path_the_state_machine_does_not_allow_is_422() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    for body in [
        json!({"status": "COMPLETED", "via": ["RESERVED"]}),
        json!({"status": "COMPLETED", "via": ["PENDING", "RESERVED", "PAID"]}),
        json!({"status": "PAID", "via": ["COMPLETED"]}),
        json!({"status": "COMPLETED", "via": ["CANCELLED"]}),
        json!({"status": "COMPLETED", "via": "PAID"}),
    ] {
        api.post("/orders/o-1/status", body.clone())
            .await
            .expect_problem(422, "validation-failed");
    }
    let order = api.get("/orders/o-1").await.expect(200);
    assert_eq!(statuses(&order), ["PENDING"]);
}

#[tokio::test]
async fn skipping_a_step_or_leaving_a_final_state_is_refused() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    let problem = api
        .post("/orders/o-1/status", json!({"status": "PAID"}))
        .await
        .expect_problem(409, "invalid-transition");
    assert_eq!(problem["current_status"], "PENDING");

    api.post(
        "/orders/o-1/status",
        json!({"status": "CANCELLED", "reason": "out of stock"}),
    )
    .await
    .expect(200);
    for status in ["RESERVED", "PAID", "COMPLETED"] {
        api.post("/orders/o-1/status", json!({"status": status}))
            .await
            .expect_problem(409, "invalid-transition");
    }
    let order = api.get("/orders/o-1").await.expect(200);
    assert_eq!(statuses(&order), ["PENDING", "CANCELLED"]);
}

#[tokio::test]
async fn a_cancellation_keeps_its_reason_and_a_completed_order_cannot_be_cancelled() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    move_to(&api, "o-1", "RESERVED").await;
    let cancelled = api
        .post(
            "/orders/o-1/status",
            json!({"status": "CANCELLED", "reason": "card declined"}),
        )
        .await
        .expect(200);
    assert_eq!(cancelled["cancel_reason"], "card declined");
    assert_eq!(cancelled["history"][2]["reason"], "card declined");

    create(&api, "o-2", "c-1").await;
    for status in ["RESERVED", "PAID", "COMPLETED"] {
        move_to(&api, "o-2", status).await;
    }
    api.post(
        "/orders/o-2/status",
        json!({"status": "CANCELLED", "reason": "too late"}),
    )
    .await
    .expect_problem(409, "invalid-transition");
}

#[tokio::test]
async fn a_customers_orders_list_newest_first_across_pages() {
    let api = order_service().await;
    for i in 0..5 {
        create(&api, &format!("o-{i}"), "c-1").await;
    }
    create(&api, "other", "c-2").await;
    let mut seen = Vec::new();
    let mut path = "/customers/c-1/orders?limit=2".to_owned();
    loop {
        let page = api.get(&path).await.expect(200);
        for order in page["items"].as_array().expect("items") {
            seen.push(order["order_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/customers/c-1/orders?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["o-4", "o-3", "o-2", "o-1", "o-0"]);

    // A cursor from one customer's listing does not open another's.
    let page = api.get("/customers/c-1/orders?limit=1").await.expect(200);
    let cursor = page["next_cursor"].as_str().expect("more pages");
    api.get(&format!("/customers/c-2/orders?cursor={cursor}"))
        .await
        .expect_problem(400, "bad-request");
}

#[tokio::test]
async fn unknown_orders_are_404_and_never_created_by_a_transition() {
    let api = order_service().await;
    api.get("/orders/nope")
        .await
        .expect_problem(404, "not-found");
    api.post("/orders/nope/status", json!({"status": "RESERVED"}))
        .await
        .expect_problem(404, "not-found");
    api.get("/orders/nope")
        .await
        .expect_problem(404, "not-found");
    let page = api.get("/customers/nobody/orders").await.expect(200);
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn invalid_orders_are_422_and_write_nothing() {
    let api = order_service().await;
    let line = |quantity: Value, unit_price: Value| json!({"customer_id": "c-1", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": quantity, "unit_price": unit_price}]});
    for body in [
        line(json!(0), json!(100)),
        line(json!(-1), json!(100)),
        line(json!(1), json!(0)),
        line(json!(1), json!(-100)),
        line(json!("1"), json!(100)),
        line(json!(1), json!(1.5)),
        json!({"customer_id": "c-1", "currency": "EUR", "lines": []}),
        json!({"customer_id": "c 1", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": 1, "unit_price": 1}]}),
        json!({"customer_id": "c-1", "currency": "eur", "lines": [{"sku": "MUG", "quantity": 1, "unit_price": 1}]}),
        json!({"customer_id": "c-1", "currency": "EUR", "lines": [{"sku": "MUG", "quantity": 1, "unit_price": 1}], "status": "PAID"}),
        json!({"customer_id": "c-1", "currency": "EUR"}),
    ] {
        let reply = api.put("/orders/o-1", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    api.get("/orders/o-1")
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn invalid_transitions_are_422() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    for body in [
        json!({"status": "PENDING"}),
        json!({"status": "SHIPPED"}),
        json!({"status": "CANCELLED"}),
        json!({"status": "CANCELLED", "reason": ""}),
        json!({"status": "RESERVED", "reason": "because"}),
        json!({"status": "RESERVED", "by": "me"}),
        json!({}),
    ] {
        let reply = api.post("/orders/o-1/status", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    let order = api.get("/orders/o-1").await.expect(200);
    assert_eq!(statuses(&order), ["PENDING"]);
}

#[tokio::test]
async fn unparseable_bodies_are_rejected_on_every_endpoint() {
    let api = order_service().await;
    create(&api, "o-1", "c-1").await;
    for (method, path) in [
        (Method::PUT, "/orders/o-2"),
        (Method::POST, "/orders/o-1/status"),
    ] {
        api.assert_rejects_unparseable_bodies(method, path).await;
    }
    api.get("/customers/c-1/orders?limit=1000")
        .await
        .expect_problem(400, "bad-request");
}

#[tokio::test]
async fn when_down_it_answers_503() {
    let api = order_service().await;
    api.set_failure_mode("down").await;
    api.put("/orders/o-1", new_order("c-1"))
        .await
        .expect_problem(503, "service-unavailable");
    api.set_failure_mode("off").await;
    api.put("/orders/o-1", new_order("c-1")).await.expect(201);
}

#[tokio::test]
async fn without_failure_injection_there_is_no_switchboard_and_a_stored_mode_is_ignored() {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, order::TABLE).await;
    let enabled = testing::spawn(order::router(
        client.clone(),
        &config,
        order::CustomerLimits::default(),
    ))
    .await;
    enabled.set_failure_mode("down").await;

    let mut production = config.clone();
    production.failure_injection = false;
    let api = testing::spawn(order::router(
        client,
        &production,
        order::CustomerLimits::default(),
    ))
    .await;
    api.put("/admin/failure-mode", json!({"mode": "off"}))
        .await
        .expect_problem(404, "failure-injection-disabled");
    api.get("/admin/failure-mode")
        .await
        .expect_problem(404, "failure-injection-disabled");
    api.put("/orders/o-1", new_order("c-1")).await.expect(201);
}
