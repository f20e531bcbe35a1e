//! `devstack create-admin` and `devstack seed` against the real customer service on
//! DynamoDB Local. (Multi-threaded runtimes: the service keeps serving while a test
//! waits for the command.)

use std::process::Command;

use serde_json::json;
use service_kit::testing;

async fn customer_service() -> testing::Api {
    let dynamo = testing::dynamo().await;
    let table = testing::fresh_table(&dynamo, customer::TABLE).await;
    testing::spawn(customer::router(dynamo, &table)).await
}

fn devstack(args: &[&str], customer_url: &str, extra: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_devstack"));
    command
        .args(args)
        .env("CUSTOMER_URL", customer_url)
        .env("INVENTORY_URL", "http://127.0.0.1:9");
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().expect("run devstack")
}

#[tokio::test(flavor = "multi_thread")]
async fn create_admin_prints_a_strong_password_once_and_never_replaces_an_account() {
    let customers = customer_service().await;
    let output = devstack(
        &["create-admin", "ops@example.com", "Ops"],
        &customers.base_url,
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    let password = printed
        .lines()
        .map(str::trim)
        .find(|line| line.len() >= 40 && !line.contains(' '))
        .expect("the password, on a line of its own")
        .to_owned();
    let admin = customers
        .post(
            "/credentials/verify",
            json!({"email": "ops@example.com", "password": password}),
        )
        .await
        .expect(200);
    assert_eq!(admin["role"], "admin");

    let again = devstack(
        &["create-admin", "ops@example.com"],
        &customers.base_url,
        &[],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists already"),
        "{again:?}"
    );
    assert!(!String::from_utf8_lossy(&again.stdout).contains("password"));
    // The first password still works: nothing was changed.
    customers
        .post(
            "/credentials/verify",
            json!({"email": "ops@example.com", "password": password}),
        )
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_refuses_to_create_demo_users_on_aws() {
    let customers = customer_service().await;
    let output = devstack(
        &["seed"],
        &customers.base_url,
        &[("SERVICE_AUTH", "aws_iam"), ("AWS_REGION", "us-east-1")],
    );
    assert!(!output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("local runs only"),
        "{output:?}"
    );
    customers
        .post(
            "/credentials/verify",
            json!({"email": "admin@example.com", "password": "admin-password"}),
        )
        .await
        .expect_problem(401, "invalid-credentials");
}
