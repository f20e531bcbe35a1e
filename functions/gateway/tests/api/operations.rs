//! The operations page's endpoints: admins only; the load generator off where failure
//! injection is off, bounded, idempotent per batch, placing orders that become sagas;
//! the numbers read from Temporal's visibility, task queue and the breaker board.

use serde_json::{Value, json};

use crate::support::{As, Options, Stack, wait_for};

/// A run id of its own: the orders of a run are named after it, and Temporal keeps the
/// sagas of earlier test runs (a saga id is never started twice).
fn run_id(name: &str) -> String {
    format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

fn batch(run: &str, second: u32, orders: u32, cards: Value) -> Value {
    json!({"run": run, "second": second, "orders": orders, "sku": "MUG-LOAD", "cards": cards})
}

/// The product the batches order, as the inventory service has it.
async fn load_product(stack: &Stack) -> Value {
    stack
        .services
        .inventory
        .get("/products/MUG-LOAD")
        .await
        .expect(200)
}

/// Sends a load batch the gateway accepts, answering what it placed.
async fn load(admin: &As<'_>, batch: Value) -> Value {
    admin
        .post("/v1/admin/operations/load", batch)
        .await
        .expect(200)
}

/// The sum of one field over the stats' minutes.
fn total(stats: &Value, field: &str) -> u64 {
    stats["minutes"]
        .as_array()
        .map(|minutes| minutes.iter().filter_map(|m| m[field].as_u64()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_operations_endpoints_are_for_admins_only() {
    let stack = Stack::start().await;
    stack.add_product("MUG-LOAD", 100, 1_000).await;
    let load = batch("anon", 0, 1, json!({"card_approve": 1}));
    stack
        .gateway
        .get("/v1/admin/operations")
        .await
        .expect_problem(401, "unauthorized");
    stack
        .gateway
        .post("/v1/admin/operations/load", load.clone())
        .await
        .expect_problem(401, "unauthorized");
    let (_, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    ada.get("/v1/admin/operations")
        .await
        .expect_problem(403, "forbidden");
    ada.post("/v1/admin/operations/load", load)
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn the_load_generator_is_off_where_failure_injection_is_off() {
    let stack = Stack::start_with(Options {
        failure_injection: false,
        ..Options::default()
    })
    .await;
    stack.add_product("MUG-LOAD", 100, 1_000).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    let refused = admin
        .post(
            "/v1/admin/operations/load",
            batch("off", 0, 1, json!({"card_approve": 1})),
        )
        .await
        .expect_problem(404, "failure-injection-disabled");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("FAILURE_INJECTION"),
        "{refused}"
    );
    // Nothing was placed: the product's stock is whole.
    let product = load_product(&stack).await;
    assert_eq!(product["reserved"], 0);
    assert_eq!(stack.services.calls("order"), 0);
}

#[tokio::test]
async fn a_load_batch_out_of_bounds_is_refused_with_a_problem() {
    let stack = Stack::start().await;
    stack.add_product("MUG-LOAD", 100, 1_000).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    let approve = json!({"card_approve": 1});
    let refused = [
        (batch("r", 0, 11, approve.clone()), "`orders`"),
        (batch("r", 0, 0, approve.clone()), "`orders`"),
        (batch("r", 60, 1, approve.clone()), "`second`"),
        (batch("r!", 0, 1, approve.clone()), "`run`"),
        (batch("r", 0, 1, json!({"card_gold": 1})), "card_gold"),
        (batch("r", 0, 1, json!({"card_approve": 0})), "`cards`"),
        (
            batch("r", 0, 1, json!({"card_approve": 1000})),
            "at most 100",
        ),
    ];
    for (body, rule) in refused {
        let problem = admin
            .post("/v1/admin/operations/load", body.clone())
            .await
            .expect_problem(422, "validation-failed");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(rule), "{body}: {problem}");
    }
    let mut unknown = batch("r", 0, 1, approve.clone());
    unknown["sku"] = json!("NO-SUCH-MUG");
    admin
        .post("/v1/admin/operations/load", unknown)
        .await
        .expect_problem(422, "unknown-product");
    let mut extra = batch("r", 0, 1, approve);
    extra["forever"] = json!(true);
    admin
        .post("/v1/admin/operations/load", extra)
        .await
        .expect_problem(422, "validation-failed");
    admin
        .get("/v1/admin/operations?minutes=61")
        .await
        .expect_problem(422, "validation-failed");
    admin
        .get("/v1/admin/operations?minutes=0")
        .await
        .expect_problem(422, "validation-failed");
    assert_eq!(stack.services.calls("order"), 0, "nothing was placed");
}

#[tokio::test]
async fn the_load_generator_places_at_most_its_rate_whatever_the_number_of_runs() {
    let stack = Stack::start().await;
    stack.add_product("MUG-LOAD", 500, 1_000).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    // Five runs at once, ten orders each: one batch's worth goes through now.
    let replies = futures::future::join_all((0..5).map(|run| {
        admin.post(
            "/v1/admin/operations/load",
            batch(
                &run_id(&format!("burst{run}")),
                0,
                10,
                json!({"card_approve": 1}),
            ),
        )
    }))
    .await;
    let mut placed = 0;
    let mut limited = 0;
    for reply in replies {
        if reply.status == 429 {
            let problem = reply.expect_problem(429, "load-rate-limited");
            assert!(problem["detail"].is_string());
            limited += 10;
        } else {
            let result = reply.expect(200);
            placed += result["placed"].as_u64().unwrap_or(0)
                + result["refused"].as_u64().unwrap_or(0)
                + result["failed"].as_u64().unwrap_or(0);
            limited += result["rate_limited"].as_u64().unwrap_or(0);
        }
    }
    assert_eq!(placed + limited, 50);
    // The burst (10) and what the rate (10 a second) refilled while the batches ran.
    assert!((10..=20).contains(&placed), "placed {placed}");
}

#[tokio::test]
async fn load_batches_become_sagas_and_the_numbers_show_how_they_ended() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG-LOAD", 100, 1_000).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);

    let run = run_id("ends");
    let approved = load(
        &admin,
        batch(&run, 0, 3, json!({"card_approve": 1, "card_decline": 0})),
    )
    .await;
    assert_eq!(approved["placed"], 3, "{approved}");
    let declined = load(&admin, batch(&run, 1, 2, json!({"card_decline": 5}))).await;
    assert_eq!(declined["placed"], 2, "{declined}");
    // Sent again: the same orders, nothing new.
    let again = load(&admin, batch(&run, 1, 2, json!({"card_decline": 5}))).await;
    assert_eq!(again["order_ids"], declined["order_ids"]);

    // Each order is a saga of its synthetic customer, placed like a checkout (a 202
    // to the checkout: the order is made as its saga goes on).
    let order_id = approved["order_ids"][0].as_str().expect("an order id");
    let order = wait_for("the order to be made", || async {
        let reply = stack
            .services
            .order
            .get(&format!("/orders/{order_id}"))
            .await;
        (reply.status == 200).then(|| reply.expect(200))
    })
    .await;
    assert!(
        order["customer_id"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("load-{run}-")),
        "{order}"
    );

    let stats = wait_for("the five sagas to be counted", || async {
        let stats = admin
            .get("/v1/admin/operations?minutes=5")
            .await
            .expect(200);
        (total(&stats, "completed") + total(&stats, "payment_declined") == 5
            && stats["running"] == 0)
            .then_some(stats)
    })
    .await;
    assert_eq!(total(&stats, "completed"), 3, "{stats}");
    assert_eq!(total(&stats, "payment_declined"), 2, "{stats}");
    assert_eq!(
        total(&stats, "step_failed") + total(&stats, "ended_otherwise"),
        0
    );
    assert_eq!(stats["minutes"].as_array().map(Vec::len), Some(5));
    let with_sagas: Vec<&Value> = stats["minutes"]
        .as_array()
        .expect("minutes")
        .iter()
        .filter(|m| m["completed"].as_u64() > Some(0))
        .collect();
    assert!(
        with_sagas
            .iter()
            .all(|m| m["p50_ms"].as_u64() > Some(0) && m["p95_ms"].as_u64() >= m["p50_ms"].as_u64()),
        "{stats}"
    );
    assert_eq!(
        stats["task_queue"]["name"],
        stack.config.task_queue.as_str()
    );
    assert!(
        stats["task_queue"]["workflow"]["pollers"].as_u64() >= Some(1),
        "the worker polls: {stats}"
    );
    let product = load_product(&stack).await;
    assert_eq!(product["available"], 97, "three sold, two given back");
}

#[tokio::test]
async fn a_payment_outage_shows_as_retries_of_the_charge_and_an_open_breaker() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG-LOAD", 100, 1_000).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    admin.set_failure_mode("payment", "down").await.expect(200);
    load(
        &admin,
        batch(&run_id("outage"), 0, 3, json!({"card_approve": 1})),
    )
    .await;
    wait_for("the payment breaker to open", || async {
        let stats = admin.get("/v1/admin/operations").await.expect(200);
        let payment = stats["breakers"]
            .as_array()?
            .iter()
            .find(|b| b["service"] == "payment")?
            .clone();
        (payment["times_opened"].as_u64() >= Some(1)).then_some(payment)
    })
    .await;
    let stats = wait_for("the charges to show their retries", || async {
        let stats = admin.get("/v1/admin/operations").await.expect(200);
        let charge_retries = stats["retries"]
            .as_array()?
            .iter()
            .find(|r| r["step"] == "charge_payment")?["retries"]
            .as_u64()?;
        (charge_retries >= 1).then_some(stats)
    })
    .await;
    assert_eq!(stats["running"], 3, "{stats}");
    assert!(stats["retries_sampled"].as_u64() >= Some(1), "{stats}");
    assert_eq!(total(&stats, "completed"), 0);

    admin.set_failure_mode("payment", "off").await.expect(200);
    wait_for("the three sagas to complete", || async {
        let stats = admin.get("/v1/admin/operations").await.expect(200);
        (total(&stats, "completed") == 3 && stats["running"] == 0).then_some(stats)
    })
    .await;
}
