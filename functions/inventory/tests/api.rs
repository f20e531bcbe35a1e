//! The inventory service over HTTP against DynamoDB Local, one fresh table per test.

use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method};

async fn inventory_service() -> Api {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, inventory::TABLE).await;
    testing::spawn(inventory::router(client, &config)).await
}

async fn add_product(api: &Api, sku: &str, available: u32) -> Value {
    api.post(
        "/products",
        json!({"sku": sku, "name": format!("Product {sku}"), "price": 1250, "currency": "EUR", "available": available}),
    )
    .await
    .expect(201)
}

async fn stock(api: &Api, sku: &str) -> (u64, u64) {
    let product = api.get(&format!("/products/{sku}")).await.expect(200);
    (
        product["available"].as_u64().expect("available"),
        product["reserved"].as_u64().expect("reserved"),
    )
}

fn lines(lines: &[(&str, u32)]) -> Value {
    json!({"lines": lines.iter().map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn a_product_is_created_once_and_read_back() {
    let api = inventory_service().await;
    let created = add_product(&api, "MUG-1", 5).await;
    assert_eq!(created["price"], 1250);
    assert_eq!(created["available"], 5);
    assert_eq!(created["reserved"], 0);
    assert_eq!(api.get("/products/MUG-1").await.expect(200), created);

    // A retry of the same creation returns the product; different details conflict.
    assert_eq!(
        api.post(
            "/products",
            json!({"sku": "MUG-1", "name": "Product MUG-1", "price": 1250, "currency": "EUR", "available": 5}),
        )
        .await
        .expect(200),
        created
    );
    api.post(
        "/products",
        json!({"sku": "MUG-1", "name": "Other", "price": 99, "currency": "EUR", "available": 5}),
    )
    .await
    .expect_problem(409, "product-exists");
}

#[tokio::test]
async fn the_catalog_pages_through_every_product_in_sku_order() {
    let api = inventory_service().await;
    for i in 0..7 {
        add_product(&api, &format!("SKU-{i}"), 1).await;
    }
    let mut seen = Vec::new();
    let mut path = "/products?limit=3".to_owned();
    loop {
        let page = api.get(&path).await.expect(200);
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|p| p["sku"].as_str().expect("sku").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/products?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<_> = (0..7).map(|i| format!("SKU-{i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn bad_pagination_parameters_are_400() {
    let api = inventory_service().await;
    api.get("/products?limit=0")
        .await
        .expect_problem(400, "bad-request");
    api.get("/products?limit=abc")
        .await
        .expect_problem(400, "bad-request");
    api.get("/products?cursor=forged")
        .await
        .expect_problem(400, "bad-request");
    api.get("/products?color=red")
        .await
        .expect_problem(400, "bad-request");
}

#[tokio::test]
async fn products_can_be_updated_and_restocked() {
    let api = inventory_service().await;
    add_product(&api, "MUG-1", 5).await;
    let updated = api
        .patch(
            "/products/MUG-1",
            json!({"price": 1500, "description": "Blue"}),
        )
        .await
        .expect(200);
    assert_eq!(updated["price"], 1500);
    assert_eq!(updated["description"], "Blue");
    assert_eq!(updated["name"], "Product MUG-1");

    let restocked = api
        .put("/products/MUG-1/stock", json!({"available": 42}))
        .await
        .expect(200);
    assert_eq!(restocked["available"], 42);
    assert_eq!(stock(&api, "MUG-1").await, (42, 0));
}

#[tokio::test]
async fn unknown_products_are_404_and_never_created_by_updates() {
    let api = inventory_service().await;
    api.get("/products/NOPE")
        .await
        .expect_problem(404, "not-found");
    api.patch("/products/NOPE", json!({"price": 1}))
        .await
        .expect_problem(404, "not-found");
    api.put("/products/NOPE/stock", json!({"available": 1}))
        .await
        .expect_problem(404, "not-found");
    api.get("/products/NOPE")
        .await
        .expect_problem(404, "not-found");
    api.get("/products/bad%20sku")
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn a_reservation_takes_stock_from_every_line() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    add_product(&api, "B", 5).await;
    let reservation = api
        .put(
            "/reservations/order-1",
            lines(&[("B", 1), ("A", 2), ("B", 1)]),
        )
        .await
        .expect(201);
    assert_eq!(reservation["status"], "RESERVED");
    assert_eq!(reservation["lines"], lines(&[("A", 2), ("B", 2)])["lines"]);
    assert_eq!(stock(&api, "A").await, (3, 2));
    assert_eq!(stock(&api, "B").await, (3, 2));
    assert_eq!(
        api.get("/reservations/order-1").await.expect(200),
        reservation
    );
}

#[tokio::test]
async fn repeating_a_reservation_returns_it_and_takes_nothing_more() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    let first = api
        .put("/reservations/order-1", lines(&[("A", 2)]))
        .await
        .expect(201);
    let again = api
        .put("/reservations/order-1", lines(&[("A", 2)]))
        .await
        .expect(200);
    assert_eq!(first, again);
    assert_eq!(stock(&api, "A").await, (3, 2));

    api.put("/reservations/order-1", lines(&[("A", 3)]))
        .await
        .expect_problem(409, "reservation-mismatch");
    assert_eq!(stock(&api, "A").await, (3, 2));
}

#[tokio::test]
async fn a_reservation_is_all_or_nothing() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    add_product(&api, "B", 1).await;
    let problem = api
        .put("/reservations/order-1", lines(&[("A", 2), ("B", 2)]))
        .await
        .expect_problem(409, "out-of-stock");
    assert_eq!(
        problem["shortages"],
        json!([{"sku": "B", "requested": 2, "available": 1}])
    );
    assert_eq!(stock(&api, "A").await, (5, 0));
    assert_eq!(stock(&api, "B").await, (1, 0));
    api.get("/reservations/order-1")
        .await
        .expect_problem(404, "not-found");

    let problem = api
        .put("/reservations/order-2", lines(&[("A", 1), ("GHOST", 1)]))
        .await
        .expect_problem(422, "unknown-product");
    assert_eq!(problem["skus"], json!(["GHOST"]));
    assert_eq!(stock(&api, "A").await, (5, 0));
}

#[tokio::test]
async fn fifty_concurrent_reservations_of_one_unit_against_ten_succeed_exactly_ten_times() {
    let api = inventory_service().await;
    add_product(&api, "HOT", 10).await;
    let attempts = (0..50).map(|i| {
        let api = api.clone();
        async move {
            api.put(&format!("/reservations/order-{i}"), lines(&[("HOT", 1)]))
                .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let reserved = replies.iter().filter(|r| r.status == 201).count();
    let out_of_stock = replies
        .iter()
        .filter(|r| r.status == 409 && r.body["type"] == "/problems/out-of-stock")
        .count();
    assert_eq!((reserved, out_of_stock), (10, 40), "{replies:#?}");
    assert_eq!(stock(&api, "HOT").await, (0, 10));
}

#[tokio::test]
async fn releasing_twice_restores_the_stock_once() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    api.put("/reservations/order-1", lines(&[("A", 3)]))
        .await
        .expect(201);
    assert_eq!(stock(&api, "A").await, (2, 3));

    let released = api
        .post("/reservations/order-1/release", json!(null))
        .await
        .expect(200);
    assert_eq!(released["status"], "RELEASED");
    let again = api
        .post("/reservations/order-1/release", json!(null))
        .await
        .expect(200);
    assert_eq!(again["status"], "RELEASED");
    assert_eq!(stock(&api, "A").await, (5, 0));
}

#[tokio::test]
async fn concurrent_releases_restore_the_stock_once() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    api.put("/reservations/order-1", lines(&[("A", 3)]))
        .await
        .expect(201);
    let releases = (0..10).map(|_| {
        let api = api.clone();
        async move { api.post("/reservations/order-1/release", json!(null)).await }
    });
    for reply in futures::future::join_all(releases).await {
        assert_eq!(reply.expect(200)["status"], "RELEASED");
    }
    assert_eq!(stock(&api, "A").await, (5, 0));
}

#[tokio::test]
async fn a_release_before_the_reservation_closes_the_order() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    let closed = api
        .post("/reservations/late-order/release", json!(null))
        .await
        .expect(200);
    assert_eq!(closed["status"], "RELEASED");
    assert_eq!(closed["lines"], json!([]));

    api.put("/reservations/late-order", lines(&[("A", 1)]))
        .await
        .expect_problem(409, "reservation-released");
    assert_eq!(stock(&api, "A").await, (5, 0));
}

#[tokio::test]
async fn commit_sells_the_held_stock_once_and_cannot_be_released() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    api.put("/reservations/order-1", lines(&[("A", 2)]))
        .await
        .expect(201);
    let committed = api
        .post("/reservations/order-1/commit", json!(null))
        .await
        .expect(200);
    assert_eq!(committed["status"], "COMMITTED");
    api.post("/reservations/order-1/commit", json!(null))
        .await
        .expect(200);
    assert_eq!(stock(&api, "A").await, (3, 0));

    api.post("/reservations/order-1/release", json!(null))
        .await
        .expect_problem(409, "reservation-committed");
    assert_eq!(stock(&api, "A").await, (3, 0));

    api.post("/reservations/none/commit", json!(null))
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn a_commit_that_names_its_lines_sells_the_stock_once_in_one_write() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    add_product(&api, "B", 5).await;
    let held = lines(&[("A", 2), ("B", 1)]);
    api.put("/reservations/order-1", held.clone())
        .await
        .expect(201);
    // In another order, as the saga may send them: they are normalised alike.
    let named = lines(&[("B", 1), ("A", 2)]);
    api.post("/reservations/order-1/commit", named.clone())
        .await
        .expect(204);
    api.post("/reservations/order-1/commit", named)
        .await
        .expect(204);
    assert_eq!(stock(&api, "A").await, (3, 0));
    assert_eq!(stock(&api, "B").await, (4, 0));
    let reservation = api.get("/reservations/order-1").await.expect(200);
    assert_eq!(reservation["status"], "COMMITTED");
    // A run of the saga from its start (a Temporal reset) finds its stock sold.
    api.put("/reservations/order-1", held).await.expect(200);
    assert_eq!(stock(&api, "A").await, (3, 0));

    api.post("/reservations/order-1/commit", lines(&[("A", 1)]))
        .await
        .expect_problem(409, "reservation-mismatch");
    api.post("/reservations/none/commit", lines(&[("A", 1)]))
        .await
        .expect_problem(404, "not-found");
    api.post("/reservations/order-1/commit", json!({"lines": []}))
        .await
        .expect_problem(422, "validation-failed");
    assert_eq!(stock(&api, "A").await, (3, 0));
}

#[tokio::test]
async fn a_released_reservation_cannot_be_committed_or_made_again() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    api.put("/reservations/order-1", lines(&[("A", 2)]))
        .await
        .expect(201);
    api.post("/reservations/order-1/release", json!(null))
        .await
        .expect(200);
    // Committed the saga's way (with its lines) and the operator's (no body).
    api.post("/reservations/order-1/commit", lines(&[("A", 2)]))
        .await
        .expect_problem(409, "reservation-released");
    api.post("/reservations/order-1/commit", json!(null))
        .await
        .expect_problem(409, "reservation-released");
    api.put("/reservations/order-1", lines(&[("A", 2)]))
        .await
        .expect_problem(409, "reservation-released");
    assert_eq!(stock(&api, "A").await, (5, 0));
}

#[tokio::test]
async fn invalid_reservations_are_422_and_take_nothing() {
    let api = inventory_service().await;
    add_product(&api, "A", 5).await;
    for body in [
        lines(&[("A", 0)]),
        json!({"lines": []}),
        json!({"lines": [{"sku": "A", "quantity": -1}]}),
        json!({"lines": [{"sku": "A", "quantity": "1"}]}),
        json!({"lines": [{"sku": "A", "quantity": 1, "price": 1}]}),
        json!({"lines": [{"sku": "A#1", "quantity": 1}]}),
        json!({"lines": [{"sku": "A", "quantity": 20000}]}),
        json!({"items": []}),
    ] {
        let reply = api.put("/reservations/order-1", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
        assert_eq!(reply.content_type, "application/problem+json");
    }
    api.put("/reservations/bad%20id", lines(&[("A", 1)]))
        .await
        .expect_problem(422, "validation-failed");
    assert_eq!(stock(&api, "A").await, (5, 0));
}

#[tokio::test]
async fn invalid_products_are_422_and_write_nothing() {
    let api = inventory_service().await;
    for body in [
        json!({"sku": "A", "name": "A", "price": 0, "currency": "EUR", "available": 1}),
        json!({"sku": "A", "name": "A", "price": -5, "currency": "EUR", "available": 1}),
        json!({"sku": "A", "name": "A", "price": 5, "currency": "euro", "available": 1}),
        json!({"sku": "A", "name": "", "price": 5, "currency": "EUR", "available": 1}),
        json!({"sku": "A B", "name": "A", "price": 5, "currency": "EUR", "available": 1}),
        json!({"sku": "A", "name": "A", "price": 5, "currency": "EUR", "available": -1}),
        json!({"sku": "A", "name": "A", "price": 5.5, "currency": "EUR", "available": 1}),
        json!({"sku": "A", "name": "A", "price": 5, "currency": "EUR"}),
        json!({"sku": "A", "name": "A", "price": 5, "currency": "EUR", "available": 1, "reserved": 3}),
    ] {
        let reply = api.post("/products", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    api.get("/products/A")
        .await
        .expect_problem(404, "not-found");

    add_product(&api, "A", 1).await;
    for body in [json!({}), json!({"price": 0}), json!({"available": 3})] {
        let reply = api.patch("/products/A", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    for body in [
        json!({"available": -1}),
        json!({}),
        json!({"available": "3"}),
    ] {
        let reply = api.put("/products/A/stock", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    assert_eq!(stock(&api, "A").await, (1, 0));
}

#[tokio::test]
async fn unparseable_bodies_are_rejected_on_every_endpoint() {
    let api = inventory_service().await;
    add_product(&api, "A", 1).await;
    for (method, path) in [
        (Method::POST, "/products"),
        (Method::PATCH, "/products/A"),
        (Method::PUT, "/products/A/stock"),
        (Method::PUT, "/reservations/order-1"),
    ] {
        api.assert_rejects_unparseable_bodies(method, path).await;
    }
}

#[tokio::test]
async fn when_down_it_answers_503_and_when_flaky_500() {
    let api = inventory_service().await;
    add_product(&api, "A", 1).await;
    api.set_failure_mode("down").await;
    api.get("/products/A")
        .await
        .expect_problem(503, "service-unavailable");
    api.put(
        "/admin/failure-mode",
        json!({"mode": "flaky", "failure_rate": 1.0}),
    )
    .await
    .expect(200);
    api.get("/products/A")
        .await
        .expect_problem(500, "injected-fault");
    api.put("/admin/failure-mode", json!({"mode": "decline"}))
        .await
        .expect_problem(422, "validation-failed");
    api.set_failure_mode("off").await;
    api.get("/products/A").await.expect(200);
}
