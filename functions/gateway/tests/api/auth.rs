//! Registration, login, refresh rotation and logout.

use gateway::config::{RateLimitConfig, TrustedProxies};
use gateway::login_throttle::FREE_FAILURES;
use serde_json::json;

use crate::support::{As, Options, Stack, refresh_cookie};

#[tokio::test]
async fn a_registered_customer_logs_in_and_reads_their_profile() {
    let stack = Stack::start().await;
    let (id, tokens) = stack.customer("ada@example.com").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(
        tokens.get("refresh_token").is_none(),
        "the refresh token is never in a body a script can read"
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
async fn the_refresh_token_is_an_http_only_cookie_scoped_to_auth() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    let reply = stack
        .gateway
        .post(
            "/v1/auth/login",
            json!({"email": "ada@example.com", "password": "a long password"}),
        )
        .await;
    let cookie = reply.headers["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/auth"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(refresh_cookie(&reply).is_some_and(|t| t.len() >= 40));
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_replay_revokes_the_login() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    let (_, first) = stack.login_with_cookie("ada@example.com").await;

    let renewed = stack.with_refresh_cookie("/v1/auth/refresh", &first).await;
    let second = refresh_cookie(&renewed).expect("a new refresh token");
    assert_ne!(first, second);
    let renewed = renewed.expect(200);
    As::new(&stack.gateway, &renewed)
        .get("/v1/me")
        .await
        .expect(200);

    // Replaying the spent token refuses it and revokes its whole family...
    stack
        .with_refresh_cookie("/v1/auth/refresh", &first)
        .await
        .expect_problem(401, "invalid-refresh-token");
    // ...so the legitimate successor no longer works either.
    stack
        .with_refresh_cookie("/v1/auth/refresh", &second)
        .await
        .expect_problem(401, "invalid-refresh-token");
    // Without the cookie, nothing to refresh.
    stack
        .gateway
        .post("/v1/auth/refresh", json!({"refresh_token": second}))
        .await
        .expect_problem(401, "invalid-refresh-token");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_clears_its_cookie() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    let (_, refresh) = stack.login_with_cookie("ada@example.com").await;
    let logged_out = stack.with_refresh_cookie("/v1/auth/logout", &refresh).await;
    assert_eq!(logged_out.status, 204);
    let cleared = logged_out.headers["set-cookie"].to_str().expect("ascii");
    assert!(
        cleared.starts_with("refresh_token=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    stack
        .with_refresh_cookie("/v1/auth/refresh", &refresh)
        .await
        .expect_problem(401, "invalid-refresh-token");
    stack
        .with_refresh_cookie("/v1/auth/refresh", "never-issued")
        .await
        .expect_problem(401, "invalid-refresh-token");
}

async fn attempt(stack: &Stack, email: &str, password: &str) -> service_kit::testing::Reply {
    stack
        .gateway
        .post(
            "/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
}

#[tokio::test]
async fn a_locked_out_account_still_lets_other_accounts_log_in_from_the_same_ip() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    stack.customer("bob@example.com").await;
    for _ in 0..=FREE_FAILURES {
        attempt(&stack, "ada@example.com", "a wrong guess")
            .await
            .expect_problem(401, "invalid-credentials");
    }
    // The right password no longer helps, for now.
    let locked = attempt(&stack, "ADA@example.com", "a long password").await;
    assert_eq!(locked.status, 429, "{locked:?}");
    assert_eq!(locked.body["type"], "/problems/login-throttled");
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Bob, from the same address, is not affected.
    attempt(&stack, "bob@example.com", "a long password")
        .await
        .expect(200);
    // An email without an account is slowed down the same way: no enumeration.
    for _ in 0..=FREE_FAILURES {
        attempt(&stack, "nobody@example.com", "guess")
            .await
            .expect_problem(401, "invalid-credentials");
    }
    assert_eq!(
        attempt(&stack, "nobody@example.com", "guess").await.status,
        429
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_failures() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    for _ in 0..2 {
        for _ in 0..FREE_FAILURES {
            attempt(&stack, "ada@example.com", "a wrong guess")
                .await
                .expect_problem(401, "invalid-credentials");
        }
        attempt(&stack, "ada@example.com", "a long password")
            .await
            .expect(200);
    }
}

/// Anonymous catalog reads from `forwarded_for`, until one is limited; how many passed.
async fn admitted_before_limit(stack: &Stack, forwarded_for: &str) -> u32 {
    let mut admitted = 0;
    for _ in 0..10 {
        let reply = stack
            .gateway
            .http
            .get(format!("{}/v1/products", stack.gateway.base_url))
            .header("x-forwarded-for", forwarded_for)
            .send()
            .await
            .expect("reachable");
        if reply.status() == 429 {
            return admitted;
        }
        admitted += 1;
    }
    admitted
}

fn small_limit(trusted_proxies: TrustedProxies) -> Options {
    Options {
        rate_limit: RateLimitConfig {
            per_minute: 6,
            burst: 3,
            lease: 1,
        },
        trusted_proxies,
        ..Options::default()
    }
}

#[tokio::test]
async fn a_forwarded_client_address_counts_only_from_a_trusted_proxy() {
    // The test client is the proxy here: it connects from 127.0.0.1.
    let trusting = Stack::start_with(small_limit(
        TrustedProxies::parse("127.0.0.1").expect("valid"),
    ))
    .await;
    assert_eq!(admitted_before_limit(&trusting, "198.51.100.1").await, 3);
    assert_eq!(
        admitted_before_limit(&trusting, "198.51.100.2").await,
        3,
        "another client behind the proxy has its own limit"
    );

    let distrusting = Stack::start_with(small_limit(TrustedProxies::None)).await;
    assert_eq!(admitted_before_limit(&distrusting, "198.51.100.1").await, 3);
    assert_eq!(
        admitted_before_limit(&distrusting, "198.51.100.2").await,
        0,
        "a header anyone can send changes nothing"
    );
}
