//! Registration, login, refresh rotation and logout.

use gateway::auth::login_throttle::{KNOWN_DEVICE, Reservation, UNTRUSTED, device_cookie_name};
use gateway::config::TrustedProxies;
use serde_json::json;

use service_kit::testing::{Api, Method, Reply};

use crate::support::{As, Stack, refresh_cookie, set_cookie, small_limit};

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

async fn attempt(stack: &Stack, email: &str, password: &str) -> Reply {
    attempt_from(stack, email, password, None).await
}

/// A login attempt from a browser that holds `device`: (cookie name, value).
async fn attempt_from(
    stack: &Stack,
    email: &str,
    password: &str,
    device: Option<(&str, &str)>,
) -> Reply {
    let mut request = stack
        .gateway
        .http
        .post(format!("{}/v1/auth/login", stack.gateway.base_url))
        .json(&json!({"email": email, "password": password}));
    if let Some((name, value)) = device {
        request = request.header("cookie", format!("{name}={value}"));
    }
    Api::reply(request).await
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

#[tokio::test]
async fn a_locked_out_account_still_lets_other_accounts_log_in_from_the_same_ip() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    stack.customer("bob@example.com").await;
    for _ in 0..UNTRUSTED.burst {
        attempt(&stack, "ada@example.com", "a wrong guess")
            .await
            .expect_problem(401, "invalid-credentials");
    }
    // The right password no longer helps from a browser the account does not know.
    let locked = attempt(&stack, "ADA@example.com", "a long password").await;
    assert_eq!(locked.status, 429, "{locked:?}");
    assert_eq!(locked.body["type"], "/problems/login-throttled");
    let wait = retry_after(&locked);
    let every = UNTRUSTED.every.as_secs();
    assert!((every - 5..=every).contains(&wait), "{wait}");
    // Bob, from the same address, is not affected.
    attempt(&stack, "bob@example.com", "a long password")
        .await
        .expect(200);
    // An email without an account is slowed down the same way: no enumeration.
    for _ in 0..UNTRUSTED.burst {
        attempt(&stack, "nobody@example.com", "guess")
            .await
            .expect_problem(401, "invalid-credentials");
    }
    assert_eq!(
        attempt(&stack, "nobody@example.com", "guess").await.status,
        429
    );
}

/// The device cookie `reply` sets for `email`, checked to be one no script can read.
fn device_cookie(reply: &Reply, email: &str) -> String {
    let name = device_cookie_name(email);
    let header = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
        .expect("a device cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        // Sent with the sign-in and with the password change, both throttled.
        "Path=/v1/auth;",
    ] {
        assert!(header.contains(attribute), "{header}");
    }
    set_cookie(reply, &name).expect("with a value")
}

#[tokio::test]
async fn concurrent_guesses_are_checked_no_more_than_the_allowance_and_the_owner_still_signs_in() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    stack.customer("bob@example.com").await;
    let ada = device_cookie_name("ada@example.com");
    // Successful sign-ins give their attempt back: any number of them.
    for _ in 0..=UNTRUSTED.burst {
        attempt(&stack, "ada@example.com", "a long password")
            .await
            .expect(200);
    }
    let signed_in = attempt(&stack, "ada@example.com", "a long password").await;
    let device = device_cookie(&signed_in, "ada@example.com");
    let bob = attempt(&stack, "bob@example.com", "a long password").await;
    let bobs_device = device_cookie(&bob, "bob@example.com");

    // 60 guesses at once, from browsers the account does not know.
    let guesses = futures::future::join_all(
        (0..60).map(|_| attempt(&stack, "ada@example.com", "a wrong guess")),
    )
    .await;
    let checked = guesses.iter().filter(|reply| reply.status == 401).count();
    let throttled = guesses.iter().filter(|reply| reply.status == 429).count();
    assert_eq!(checked, UNTRUSTED.burst as usize, "passwords checked");
    assert_eq!(checked + throttled, 60);

    // The owner's browser signs in at once, and keeps its cookie.
    let known = Some((ada.as_str(), device.as_str()));
    let owner = attempt_from(&stack, "ada@example.com", "a long password", known).await;
    assert_eq!(device_cookie(&owner, "ada@example.com"), device);
    owner.expect(200);
    // Any other browser is still throttled, whatever cookie it makes up or brings.
    for other in [
        None,
        Some((ada.as_str(), "made-up")),
        Some((ada.as_str(), bobs_device.as_str())),
    ] {
        let reply = attempt_from(&stack, "ada@example.com", "a long password", other).await;
        assert_eq!(reply.status, 429, "{other:?}: {reply:?}");
    }

    // The owner's typos count on the owner's browser only, and a sign-in refills it.
    for _ in 0..KNOWN_DEVICE.burst - 1 {
        attempt_from(&stack, "ada@example.com", "a typo", known)
            .await
            .expect_problem(401, "invalid-credentials");
    }
    attempt_from(&stack, "ada@example.com", "a long password", known)
        .await
        .expect(200);
    // A browser that keeps guessing waits too: it does not fall back on the shared
    // allowance.
    for _ in 0..KNOWN_DEVICE.burst {
        attempt_from(&stack, "ada@example.com", "a typo", known)
            .await
            .expect_problem(401, "invalid-credentials");
    }
    let spent = attempt_from(&stack, "ada@example.com", "a long password", known).await;
    assert_eq!(spent.status, 429, "{spent:?}");
}

/// Anonymous catalog reads from `forwarded_for`, until one is limited; how many passed.
async fn admitted_before_limit(stack: &Stack, forwarded_for: &str) -> u32 {
    admitted_with(stack, &[("x-forwarded-for", forwarded_for)]).await
}

/// Anonymous catalog reads with `headers`, until one is limited; how many passed.
async fn admitted_with(stack: &Stack, headers: &[(&str, &str)]) -> u32 {
    let mut admitted = 0;
    for _ in 0..10 {
        let mut request = stack
            .gateway
            .http
            .get(format!("{}/v1/products", stack.gateway.base_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let reply = request.send().await.expect("reachable");
        if reply.status() == 429 {
            return admitted;
        }
        admitted += 1;
    }
    admitted
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

#[tokio::test]
async fn three_hours_of_guessing_get_no_more_than_ten_attempts_in_any_hour() {
    let stack = Stack::start().await;
    let throttle = &stack.state.auth.login_throttle;
    let start = gateway::auth::now_secs();
    // Two guesses a minute, without a device cookie, on the throttle's clock.
    let mut granted = Vec::new();
    for minute in 0..180u64 {
        for _ in 0..2 {
            let reservation = throttle
                .reserve("ada@example.com", None, start + minute * 60)
                .await
                .expect("the throttle's table");
            if let Reservation::Granted(_) = reservation {
                granted.push(minute);
            }
        }
    }
    for first in 0..180 {
        let in_hour = granted
            .iter()
            .filter(|minute| (first..first + 60).contains(*minute))
            .count();
        assert!(
            in_hour <= 10,
            "{in_hour} attempts from minute {first}: {granted:?}"
        );
    }
    // The allowance refills: one more attempt every `every`.
    let refills = 180 * 60 / UNTRUSTED.every.as_secs() as usize;
    assert!(
        granted.len() >= UNTRUSTED.burst as usize + refills - 1,
        "{granted:?}"
    );
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_64() {
    let stack = Stack::start_with(small_limit(
        TrustedProxies::parse("127.0.0.1").expect("valid"),
    ))
    .await;
    assert_eq!(admitted_before_limit(&stack, "2001:db8:1:2::1").await, 3);
    assert_eq!(
        admitted_before_limit(&stack, "2001:db8:1:2:abcd::7").await,
        0,
        "another address of the same /64 shares its limit"
    );
    assert_eq!(
        admitted_before_limit(&stack, "2001:db8:1:3::1").await,
        3,
        "the next /64 is another subscriber"
    );
}

#[tokio::test]
async fn every_answer_says_nosniff_and_tokens_are_never_cached() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    let login = attempt(&stack, "ada@example.com", "a long password").await;
    let refresh_token = refresh_cookie(&login).expect("a refresh cookie");
    let refreshed = stack
        .with_refresh_cookie("/v1/auth/refresh", &refresh_token)
        .await;
    for tokens in [&login, &refreshed] {
        assert_eq!(tokens.status, 200, "{tokens:?}");
        assert_eq!(tokens.headers["cache-control"], "no-store", "{tokens:?}");
    }
    let mut answers = vec![login, refreshed];
    answers.push(stack.gateway.get("/v1/no-such-route").await);
    answers.push(stack.gateway.get("/health").await);
    answers.push(stack.gateway.get("/v1/products").await);
    // Guesses until the throttle answers: 401s, then a 429.
    for _ in 0..=UNTRUSTED.burst {
        answers.push(attempt(&stack, "ada@example.com", "a wrong guess").await);
    }
    let statuses: Vec<u16> = answers.iter().map(|reply| reply.status.as_u16()).collect();
    for expected in [200, 401, 404, 429] {
        assert!(statuses.contains(&expected), "{statuses:?}");
    }
    for reply in &answers {
        assert_eq!(
            reply
                .headers
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn a_flood_of_bad_tokens_meets_the_limit_of_its_address() {
    let stack = Stack::start_with(small_limit(TrustedProxies::None)).await;
    let mut statuses = Vec::new();
    for token in ["forged", "forged", "", "forged", "forged"] {
        let reply = stack
            .gateway
            .http
            .get(format!("{}/v1/me", stack.gateway.base_url))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("reachable");
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn a_viewer_address_counts_only_on_requests_with_cloudfronts_origin_secret() {
    const SECRET: &str = "the-origin-secret-cloudfront-sends-0123456789";
    let trusted = TrustedProxies::parse("cloudfront")
        .expect("valid")
        .with_origin_secret(SECRET.into())
        .expect("long enough");
    let stack = Stack::start_with(small_limit(trusted)).await;
    let through_cloudfront = |viewer: &'static str| {
        [
            ("cloudfront-viewer-address", viewer),
            ("x-origin-verify", SECRET),
        ]
    };
    assert_eq!(
        admitted_with(&stack, &through_cloudfront("198.51.100.1:40000")).await,
        3
    );
    assert_eq!(
        admitted_with(&stack, &through_cloudfront("198.51.100.2:40000")).await,
        3,
        "each viewer has its own limit"
    );
    // Straight to the function URL, naming any viewer: the caller's own address counts.
    let direct = [("cloudfront-viewer-address", "198.51.100.3:40000")];
    assert_eq!(admitted_with(&stack, &direct).await, 3);
    let guessed = [
        ("cloudfront-viewer-address", "198.51.100.4:40000"),
        (
            "x-origin-verify",
            "a-guessed-secret-of-some-length-0123456789",
        ),
    ];
    assert_eq!(admitted_with(&stack, &guessed).await, 0, "the same caller");
}

#[tokio::test]
async fn signing_out_everywhere_revokes_every_token_of_every_device() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    stack.customer("bob@example.com").await;
    let (laptop, laptop_refresh) = stack.login_with_cookie("ada@example.com").await;
    let (phone, phone_refresh) = stack.login_with_cookie("ada@example.com").await;
    let bob = stack.login("bob@example.com").await;
    As::new(&stack.gateway, &phone)
        .get("/v1/me")
        .await
        .expect(200);

    let signed_out = As::new(&stack.gateway, &laptop)
        .post("/v1/auth/logout-everywhere", json!({}))
        .await;
    assert_eq!(signed_out.status, 204, "{signed_out:?}");
    for access in [&laptop, &phone] {
        As::new(&stack.gateway, access)
            .get("/v1/me")
            .await
            .expect_problem(401, "unauthorized");
    }
    for refresh in [&laptop_refresh, &phone_refresh] {
        stack
            .with_refresh_cookie("/v1/auth/refresh", refresh)
            .await
            .expect_problem(401, "invalid-refresh-token");
    }
    // Another user is not affected; a new login works.
    As::new(&stack.gateway, &bob)
        .get("/v1/me")
        .await
        .expect(200);
    let (again, again_refresh) = stack.login_with_cookie("ada@example.com").await;
    As::new(&stack.gateway, &again)
        .get("/v1/me")
        .await
        .expect(200);
    let refreshed = stack
        .with_refresh_cookie("/v1/auth/refresh", &again_refresh)
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    // It needs a valid access token.
    stack
        .gateway
        .post("/v1/auth/logout-everywhere", json!({}))
        .await
        .expect_problem(401, "unauthorized");
}

#[tokio::test]
async fn a_password_change_signs_out_every_other_session_and_keeps_this_one() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    let (other, other_refresh) = stack.login_with_cookie("ada@example.com").await;
    let (this, _) = stack.login_with_cookie("ada@example.com").await;
    let me = As::new(&stack.gateway, &this);

    me.post(
        "/v1/auth/password",
        json!({"current_password": "a wrong one", "new_password": "a new long password"}),
    )
    .await
    .expect_problem(401, "invalid-credentials");
    me.post(
        "/v1/auth/password",
        json!({"current_password": "a long password", "new_password": "short"}),
    )
    .await
    .expect_problem(422, "validation-failed");
    // Neither changed anything: every session still works.
    As::new(&stack.gateway, &other)
        .get("/v1/me")
        .await
        .expect(200);

    let changed = me
        .post(
            "/v1/auth/password",
            json!({"current_password": "a long password", "new_password": "a new long password"}),
        )
        .await;
    let fresh_refresh = refresh_cookie(&changed).expect("a new refresh cookie");
    assert_eq!(changed.headers["cache-control"], "no-store");
    let fresh = changed.expect(200);
    As::new(&stack.gateway, &fresh)
        .get("/v1/me")
        .await
        .expect(200);
    for old in [&other, &this] {
        As::new(&stack.gateway, old)
            .get("/v1/me")
            .await
            .expect_problem(401, "unauthorized");
    }
    stack
        .with_refresh_cookie("/v1/auth/refresh", &other_refresh)
        .await
        .expect_problem(401, "invalid-refresh-token");
    let refreshed = stack
        .with_refresh_cookie("/v1/auth/refresh", &fresh_refresh)
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    attempt(&stack, "ada@example.com", "a long password")
        .await
        .expect_problem(401, "invalid-credentials");
    attempt(&stack, "ada@example.com", "a new long password")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_known_browser_changes_the_password_while_guesses_have_spent_the_shared_allowance() {
    let stack = Stack::start().await;
    stack.customer("ada@example.com").await;
    let signed_in = attempt(&stack, "ada@example.com", "a long password").await;
    let device = device_cookie(&signed_in, "ada@example.com");
    let me = As::new(&stack.gateway, &signed_in.body);
    for _ in 0..UNTRUSTED.burst {
        attempt(&stack, "ada@example.com", "a wrong guess")
            .await
            .expect_problem(401, "invalid-credentials");
    }
    let change =
        json!({"current_password": "a long password", "new_password": "a new long password"});
    let elsewhere = me.post("/v1/auth/password", change.clone()).await;
    assert_eq!(elsewhere.status, 429, "{elsewhere:?}");
    let cookie = format!("{}={device}", device_cookie_name("ada@example.com"));
    me.send(
        Method::POST,
        "/v1/auth/password",
        Some(change),
        &[("cookie", &cookie)],
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn guesses_at_the_current_password_count_like_logins() {
    let stack = Stack::start().await;
    let (_, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let guess = json!({"current_password": "a guess", "new_password": "a new long password"});
    for _ in 0..UNTRUSTED.burst {
        me.post("/v1/auth/password", guess.clone())
            .await
            .expect_problem(401, "invalid-credentials");
    }
    let throttled = me.post("/v1/auth/password", guess).await;
    assert_eq!(throttled.status, 429, "{throttled:?}");
    assert_eq!(throttled.body["type"], "/problems/login-throttled");
}
