//! Sagas that need an operator: a compensation stuck on a service that is down is
//! listed with its step, error and attempts, an admin may retry it now, and it leaves
//! the list once the service is back; a saga that is not stuck has nothing to retry.
//! Another deployment in the same namespace does not list it.

use saga_contract::refusals;
use serde_json::{Value, json};

use crate::support::{As, Stack, wait_for};

#[tokio::test]
async fn a_stuck_compensation_is_listed_and_an_admin_retries_it_now() {
    let stack = Stack::with_worker().await;
    stack.add_product("ESPRESSO-PRO", 3, 150_000).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    let (_, tokens) = stack.customer("ada@example.com").await;
    let ada = As::new(&stack.gateway, &tokens);
    let placed = ada
        .order(
            "big",
            json!([{"sku": "ESPRESSO-PRO", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("id").to_owned();
    wait_for("the order to await review", || async {
        let detail = ada.get(&format!("/v1/orders/{order_id}")).await.expect(200);
        (detail["saga"]["phase"] == "AWAITING_APPROVAL").then_some(detail)
    })
    .await;
    let refused = admin
        .post(&format!("/v1/admin/attention/{order_id}/retry"), json!({}))
        .await
        .expect_problem(409, "decision-refused");
    assert_eq!(refused["detail"], refusals::NOTHING_TO_RETRY);

    // The stock cannot be released while the inventory is down.
    admin
        .set_failure_mode("inventory", "down")
        .await
        .expect(200);
    admin
        .post(
            &format!("/v1/admin/reviews/{order_id}/reject"),
            json!({"reason": "fraud check"}),
        )
        .await
        .expect(200);
    let item: Value = wait_for("the saga to be listed as stuck", || async {
        let list = admin.get("/v1/admin/attention").await.expect(200);
        list["items"]
            .as_array()?
            .iter()
            .find(|item| item["order_id"] == order_id.as_str())
            .cloned()
    })
    .await;
    assert_eq!(item["reason"], "COMPENSATION_STUCK");
    assert_eq!(item["step"], "release_inventory");
    assert!(item["attempts"].as_u64() > Some(1), "{item}");
    assert!(
        item["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("inventory"),
        "{item}"
    );
    assert!(item["since"].is_string(), "{item}");
    // Another deployment in the same namespace (its own task queue) lists only its own.
    let elsewhere = Stack::start().await;
    let their_admin = elsewhere.admin().await;
    let theirs = As::new(&elsewhere.gateway, &their_admin)
        .get("/v1/admin/attention")
        .await
        .expect(200);
    assert!(!theirs.to_string().contains(order_id.as_str()), "{theirs}");

    // A retry while it is still stuck: accepted (the worker's breaker reset, the step
    // retried); it stays stuck until the inventory is back, then completes.
    let status = admin
        .post(&format!("/v1/admin/attention/{order_id}/retry"), json!({}))
        .await
        .expect(200);
    assert_eq!(status["attention"]["step"], "release_inventory");
    admin.set_failure_mode("inventory", "off").await.expect(200);
    let order = wait_for("the order to be cancelled", || async {
        let detail = ada.get(&format!("/v1/orders/{order_id}")).await.expect(200);
        (detail["status"] == "CANCELLED").then_some(detail)
    })
    .await;
    assert_eq!(
        order["order"]["cancel_reason"],
        "rejected in review: fraud check"
    );
    let list = admin.get("/v1/admin/attention").await.expect(200);
    let listed = list["items"].as_array().expect("items");
    assert!(
        listed
            .iter()
            .all(|item| item["order_id"] != order_id.as_str()),
        "{list}"
    );
    let stock = stack
        .services
        .inventory
        .get("/products/ESPRESSO-PRO")
        .await
        .expect(200);
    assert_eq!(
        (stock["available"].clone(), stock["reserved"].clone()),
        (json!(3), json!(0))
    );
}
