//! Registration, login, refresh rotation and logout.

use serde_json::json;

use crate::support::{As, Stack};

#[tokio::test]
async fn a_registered_customer_logs_in_and_reads_their_profile() {
    let stack = Stack::start().await;
    let (id, tokens) = stack.customer("ada@example.com").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 40)
    );

    let me = As::new(&stack.gateway, &tokens);
    let profile = me.get("/v1/me").await.expect(200);
    assert_eq!(profile["id"], id.as_str());
    assert_eq!(profile["email"], "ada@example.com");
    assert_eq!(profile["role"], "customer");
    assert!(profile.get("password_hash").is_none());

    let updated = me
        .send(
            service_kit::testing::Method::PATCH,
            "/v1/me",
            Some(json!({"shipping_address": "1 Infinite Loop"})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(updated["shipping_address"], "1 Infinite Loop");
}

#[tokio::test]
async fn wrong_credentials_are_401_and_registration_cannot_choose_a_role() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    stack
        .gateway
        .post(
            "/v1/auth/login",
            json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await
        .expect_problem(401, "invalid-credentials");
    stack
        .gateway
        .post(
            "/v1/auth/register",
            json!({"email": "eve@example.com", "password": "a long password", "name": "Eve", "role": "admin"}),
        )
        .await
        .expect_problem(422, "validation-failed");
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_replay_revokes_the_login() {
    let stack = Stack::start().await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let first = tokens["refresh_token"].clone();

    let renewed = stack
        .gateway
        .post("/v1/auth/refresh", json!({"refresh_token": first}))
        .await
        .expect(200);
    let second = renewed["refresh_token"].clone();
    assert_ne!(first, second);
    As::new(&stack.gateway, &renewed)
        .get("/v1/me")
        .await
        .expect(200);

    // Replaying the spent token refuses it and revokes its whole family...
    stack
        .gateway
        .post("/v1/auth/refresh", json!({"refresh_token": first}))
        .await
        .expect_problem(401, "invalid-refresh-token");
    // ...so the legitimate successor no longer works either.
    stack
        .gateway
        .post("/v1/auth/refresh", json!({"refresh_token": second}))
        .await
        .expect_problem(401, "invalid-refresh-token");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let stack = Stack::start().await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let refresh = tokens["refresh_token"].clone();
    stack
        .gateway
        .post("/v1/auth/logout", json!({"refresh_token": refresh}))
        .await
        .expect(204);
    stack
        .gateway
        .post("/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await
        .expect_problem(401, "invalid-refresh-token");
    stack
        .gateway
        .post("/v1/auth/refresh", json!({"refresh_token": "never-issued"}))
        .await
        .expect_problem(401, "invalid-refresh-token");
}
