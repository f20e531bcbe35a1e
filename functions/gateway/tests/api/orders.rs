//! Orders through the gateway: validation, idempotency, the saga behind them.

use serde_json::json;
use service_kit::testing::Method;
use temporalio_client::WorkflowCountOptions;

use crate::support::{As, GatewayProcess, Options, Stack, wait_for};

/// How many workflows the dev server has that match `query` (its visibility query).
async fn count_workflows(stack: &Stack, query: String) -> usize {
    stack
        .temporal
        .count_workflows(query, WorkflowCountOptions::default())
        .await
        .expect("count workflows")
        .count()
}

#[tokio::test]
async fn an_order_is_accepted_then_completed_by_the_saga() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (user_id, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);

    let placed = me
        .order(
            "first-order",
            json!([{"sku": "MUG", "quantity": 2}]),
            "card_approve",
        )
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("id").to_owned();
    assert_eq!(placed["status_url"], format!("/v1/orders/{order_id}"));

    let detail = me.until_completed(&order_id).await;
    let order = &detail["order"];
    assert_eq!(order["customer_id"], user_id.as_str());
    // The price came from the catalog.
    assert_eq!(order["lines"][0]["unit_price"], 1250);
    assert_eq!(order["total"], 2500);
    assert_eq!(
        detail["workflow_url"],
        format!("http://localhost:8233/namespaces/default/workflows/{order_id}")
    );
    let listed = me.get("/v1/orders").await.expect(200);
    assert_eq!(listed["items"][0]["order_id"], order_id.as_str());
}

#[tokio::test]
async fn twenty_concurrent_posts_with_one_key_make_one_order_and_one_workflow() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let attempts = (0..20).map(|_| {
        me.order(
            "same-key",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
    });
    let replies = futures::future::join_all(attempts).await;
    let ids: Vec<String> = replies
        .into_iter()
        .map(|reply| {
            reply.expect(201)["order_id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let order_id = &ids[0];

    me.until_completed(order_id).await;
    let runs = count_workflows(&stack, format!("WorkflowId = '{order_id}'")).await;
    assert_eq!(runs, 1);
    let orders = me.get("/v1/orders").await.expect(200);
    assert_eq!(orders["items"].as_array().expect("items").len(), 1);
    assert_eq!(stack.services.stock("MUG").await.0, 9);

    // The same key later still names the same order, and starts nothing.
    let again = me
        .order(
            "same-key",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
    assert_eq!(again["order_id"], order_id.as_str());
}

#[tokio::test]
async fn invalid_orders_are_refused_before_any_saga_starts() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let line = json!([{"sku": "MUG", "quantity": 1}]);

    me.send(
        Method::POST,
        "/v1/orders",
        Some(json!({"lines": line, "payment_method": "card_approve"})),
        &[],
    )
    .await
    .expect_problem(400, "idempotency-key-required");
    me.order("bad key!", line.clone(), "card_approve")
        .await
        .expect_problem(400, "bad-request");
    let unknown = me
        .order(
            "k1",
            json!([{"sku": "GHOST", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect_problem(422, "unknown-product");
    assert_eq!(unknown["skus"], json!(["GHOST"]));
    for (lines, method) in [
        (json!([{"sku": "MUG", "quantity": 0}]), "card_approve"),
        (json!([{"sku": "MUG", "quantity": -1}]), "card_approve"),
        (json!([{"sku": "MUG", "quantity": 101}]), "card_approve"),
        (json!([]), "card_approve"),
        (
            json!([{"sku": "MUG", "quantity": 1, "unit_price": 1}]),
            "card_approve",
        ),
        (line.clone(), "visa"),
    ] {
        let reply = me.order("k2", lines.clone(), method).await;
        assert_eq!(reply.status, 422, "{lines} {method} -> {reply:#?}");
    }
    me.send(
        Method::POST,
        "/v1/orders",
        None,
        &[("idempotency-key", "k3")],
    )
    .await
    .expect_problem(415, "unsupported-media-type");
    stack
        .gateway
        .post(
            "/v1/orders",
            json!({"lines": line, "payment_method": "card_approve"}),
        )
        .await
        .expect_problem(401, "unauthorized");
    let runs = count_workflows(&stack, format!("TaskQueue = '{}'", stack.config.task_queue)).await;
    assert_eq!(runs, 0, "no saga started");
}

#[tokio::test]
async fn a_key_reused_for_another_order_is_refused_and_starts_nothing() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    stack.add_product("TEA", 10, 890).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let first = me
        .order(
            "reused",
            json!([{"sku": "MUG", "quantity": 1}, {"sku": "TEA", "quantity": 2}]),
            "card_approve",
        )
        .await
        .expect(202);
    // The same request, its lines in another order and split: the same order.
    let same = me
        .order(
            "reused",
            json!([{"sku": "TEA", "quantity": 1}, {"sku": "MUG", "quantity": 1}, {"sku": "TEA", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(202);
    assert_eq!(same["order_id"], first["order_id"]);
    for (lines, method) in [
        (json!([{"sku": "MUG", "quantity": 2}]), "card_approve"),
        (
            json!([{"sku": "MUG", "quantity": 1}, {"sku": "TEA", "quantity": 2}]),
            "card_decline",
        ),
    ] {
        me.order("reused", lines, method)
            .await
            .expect_problem(422, "idempotency-key-reused");
    }
    let runs = count_workflows(&stack, format!("TaskQueue = '{}'", stack.config.task_queue)).await;
    assert_eq!(runs, 1, "one saga for the key");
}

/// Deletes a workflow as Temporal does once its retention has passed, and waits until
/// it is gone.
async fn forget_workflow(stack: &Stack, workflow_id: &str) {
    let cli =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/venv/bin/temporal");
    let address = std::env::var("TEMPORAL_ADDRESS").expect("TEMPORAL_ADDRESS");
    let status = std::process::Command::new(cli)
        .args([
            "workflow",
            "delete",
            "--yes",
            "--address",
            &address,
            "--workflow-id",
            workflow_id,
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run the temporal CLI");
    assert!(status.success(), "temporal workflow delete failed");
    wait_for("the workflow to be deleted", || async {
        let runs = count_workflows(stack, format!("WorkflowId = '{workflow_id}'")).await;
        (runs == 0).then_some(json!(null))
    })
    .await;
}

#[tokio::test]
async fn after_the_workflow_is_forgotten_the_key_still_names_its_order_and_starts_nothing() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let line = json!([{"sku": "MUG", "quantity": 1}]);
    let placed = me
        .order("kept", line.clone(), "card_approve")
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("id").to_owned();
    me.until_completed(&order_id).await;
    forget_workflow(&stack, &order_id).await;

    let again = me.order("kept", line, "card_approve").await.expect(202);
    assert_eq!(again["order_id"], order_id.as_str());
    let runs = count_workflows(&stack, format!("WorkflowId = '{order_id}'")).await;
    assert_eq!(runs, 0, "no second saga on a completed order");
    assert_eq!(stack.services.stock("MUG").await.0, 9, "sold once");
}

#[tokio::test]
async fn the_owner_is_checked_before_temporal_is_asked() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, ada) = stack.customer("ada@example.com").await;
    let (_, bob) = stack.customer("bob@example.com").await;
    let placed = As::new(&stack.gateway, &ada)
        .order(
            "mine",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(202);
    let path = format!("/v1/orders/{}", placed["order_id"].as_str().expect("id"));

    // A gateway whose Temporal cannot be reached: whatever reaches Temporal fails.
    let cut_off = GatewayProcess::start(&stack, &[("TEMPORAL_ADDRESS", "127.0.0.1:9")]).await;
    let api = cut_off.api();
    As::new(&api, &bob)
        .get(&path)
        .await
        .expect_problem(404, "not-found");
    As::new(&api, &bob)
        .post(&format!("{path}/cancel"), json!({}))
        .await
        .expect_problem(404, "not-found");
    As::new(&api, &ada)
        .get(&path)
        .await
        .expect_problem(503, "service-unavailable");
}

#[tokio::test]
async fn a_gateway_with_its_temporal_api_key_in_secrets_manager_places_orders() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let secrets = service_kit::testing::secrets_manager().await;
    let api_key = service_kit::testing::new_secret(&secrets, "a-temporal-cloud-api-key").await;
    // The dev server takes any key: what counts is that the key is read and sent.
    let gateway = GatewayProcess::start(&stack, &[("TEMPORAL_SECRET_ARN", &api_key)]).await;
    let api = gateway.api();
    As::new(&api, &tokens)
        .order(
            "through-the-secret",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn a_checkout_is_answered_out_of_stock_at_once_and_a_repeat_gets_the_same_answer() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 1, 1250).await;
    stack.add_product("TEA", 5, 500).await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let lines = json!([{"sku": "MUG", "quantity": 3}, {"sku": "TEA", "quantity": 1}]);

    let refused = me
        .order("too-many", lines.clone(), "card_approve")
        .await
        .expect_problem(409, "out-of-stock");
    assert_eq!(
        refused["shortages"],
        json!([{"sku": "MUG", "requested": 3, "available": 1}])
    );
    let detail = refused["detail"].as_str().expect("detail");
    assert!(detail.contains("MUG"), "{detail}");
    let again = me
        .order("too-many", lines, "card_approve")
        .await
        .expect_problem(409, "out-of-stock");
    assert_eq!(again["shortages"], refused["shortages"]);

    for (sku, available) in [("MUG", 1), ("TEA", 5)] {
        let stock = stack
            .services
            .inventory
            .get(&format!("/products/{sku}"))
            .await
            .expect(200);
        assert_eq!(stock["available"], available, "{sku} untouched");
        assert_eq!(stock["reserved"], 0, "{sku} holds nothing");
    }
}

#[tokio::test]
async fn a_customer_places_orders_at_most_at_its_order_rate() {
    let stack = Stack::start_with(Options {
        order_rate: gateway::config::RateLimitConfig {
            per_minute: 6,
            burst: 2,
            lease: 1,
        },
        ..Options::default()
    })
    .await;
    stack.add_product("MUG", 100, 1250).await;
    let (ada_id, ada) = stack.customer("ada@example.com").await;
    let (_, bob) = stack.customer("bob@example.com").await;
    let me = As::new(&stack.gateway, &ada);
    // Refused orders start nothing, and count for nothing.
    for key in ["bad-1", "bad-2", "bad-3"] {
        me.order(key, json!([{"sku": "MUG", "quantity": 0}]), "card_approve")
            .await
            .expect_problem(422, "validation-failed");
    }
    let one_mug = |key| me.order(key, json!([{"sku": "MUG", "quantity": 1}]), "card_approve");
    for key in ["first", "second"] {
        one_mug(key).await.expect(202);
    }
    let limited = one_mug("third").await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(limited.body["type"], "/problems/order-rate-limited");
    let seconds: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&seconds), "{seconds}");
    // Nothing was started for it, and another customer has an allowance of its own.
    me.get(&format!(
        "/v1/orders/{}",
        gateway::orders::routes::order_id_for(&ada_id, "third")
    ))
    .await
    .expect_problem(404, "not-found");
    // A retry of a placed order places nothing new: it is answered at any rate, while
    // the refused one is refused again.
    one_mug("first").await.expect(202);
    let again = one_mug("third").await;
    assert_eq!(again.status, 429, "{again:?}");
    As::new(&stack.gateway, &bob)
        .order(
            "first",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(202);
}
