//! The admin's view of the saga workers' circuit breakers, read from the breaker board
//! that the workers write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service_kit::testing;
use worker::board::BreakerReporter;
use worker::breaker::{BreakerSettings, CircuitBreaker};

use crate::support::{As, Stack, wait_for};

fn breaker(service: &'static str) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(
        service,
        BreakerSettings {
            failure_threshold: 2,
            cool_down: Duration::from_secs(60),
        },
    ))
}

fn open(breaker: &CircuitBreaker) {
    breaker.record_failure(Instant::now());
    breaker.record_failure(Instant::now());
}

fn by_service<'a>(breakers: &'a Value, service: &str) -> &'a Value {
    breakers
        .as_array()
        .expect("a list")
        .iter()
        .find(|b| b["service"] == service)
        .unwrap_or_else(|| panic!("no breaker for {service} in {breakers}"))
}

#[tokio::test]
async fn the_admin_sees_the_least_healthy_breaker_the_workers_report_and_late_reports_change_nothing()
 {
    let stack = Stack::start().await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    let (_, customer) = stack.customer("cy@example.com").await;
    assert_eq!(admin.get("/v1/admin/breakers").await.expect(200), json!([]));

    let dynamo = testing::dynamo().await;
    let table = &stack.config.breakers_table;
    let first = BreakerReporter::new(dynamo.clone(), table, "first");
    let second = BreakerReporter::new(dynamo, table, "second");
    let (first_inventory, first_payment) = (breaker("inventory"), breaker("payment"));
    let second_inventory = breaker("inventory");
    open(&first_inventory);
    first
        .publish(&[first_inventory.clone(), first_payment.clone()], 1)
        .await
        .expect("first worker reports");
    second
        .publish(&[second_inventory], 1)
        .await
        .expect("second worker reports");

    let breakers = admin.get("/v1/admin/breakers").await.expect(200);
    let inventory = by_service(&breakers, "inventory");
    assert_eq!(inventory["state"], "open", "{breakers}");
    assert_eq!(inventory["times_opened"], 1);
    assert!(
        inventory["retry_after_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 50_000 && ms <= 60_000),
        "{inventory}"
    );
    assert_eq!(by_service(&breakers, "payment")["state"], "closed");
    As::new(&stack.gateway, &customer)
        .get("/v1/admin/breakers")
        .await
        .expect_problem(403, "forbidden");

    // The first worker's breaker closes and it says so; a report it wrote earlier that
    // arrives late (a retried write) does not bring the open state back.
    first_inventory.record_success();
    first
        .publish(std::slice::from_ref(&first_inventory), 3)
        .await
        .expect("report");
    open(&first_inventory);
    first
        .publish(&[first_inventory], 2)
        .await
        .expect("a late report is not an error");
    let breakers = admin.get("/v1/admin/breakers").await.expect(200);
    assert_eq!(by_service(&breakers, "inventory")["state"], "closed");
}

#[tokio::test]
async fn a_payment_outage_opens_the_breaker_the_admin_sees_until_the_service_is_back() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    admin.set_failure_mode("payment", "down").await.expect(200);
    let (_, tokens) = stack.customer("ola@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let placed = me
        .order(
            "during-outage",
            json!([{"sku": "MUG", "quantity": 1}]),
            "card_approve",
        )
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("id").to_owned();

    wait_for("the admin to see the payment breaker open", || async {
        let breakers = admin.get("/v1/admin/breakers").await.expect(200);
        (by_service(&breakers, "payment")["state"] == "open").then_some(breakers)
    })
    .await;
    admin.set_failure_mode("payment", "off").await.expect(200);
    me.until_completed(&order_id).await;
    let breakers = wait_for("the admin to see it closed again", || async {
        let breakers = admin.get("/v1/admin/breakers").await.expect(200);
        (by_service(&breakers, "payment")["state"] == "closed").then_some(breakers)
    })
    .await;
    assert!(
        by_service(&breakers, "payment")["times_opened"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{breakers}"
    );
}
