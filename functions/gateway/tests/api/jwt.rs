//! Attacks on access tokens: each must get 401, and a well-formed token (the control)
//! must get through, so the 401s are about the attack and nothing else.

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway::auth::now_secs;
use gateway::config::JwtKeys;

use crate::support::TEST_JWT_SECRET;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use service_kit::testing::{self, Api};

use crate::support::{Options, Stack};

const ISSUER: &str = "order-saga-gateway";
const AUDIENCE: &str = "order-saga-api";

fn claims(sub: &str) -> Value {
    let now = now_secs();
    json!({"sub": sub, "role": "customer", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 600})
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn status_with(api: &Api, token: &str) -> u16 {
    let request = api
        .http
        .get(format!("{}/v1/me", api.base_url))
        .header("authorization", format!("Bearer {token}"));
    let reply = Api::reply(request).await;
    if reply.status == 401 {
        assert_eq!(reply.content_type, "application/problem+json");
    }
    reply.status.as_u16()
}

/// A customer's id, so that a valid token reaches a real profile.
async fn customer_id(stack: &Stack) -> String {
    stack.customer("ada@example.com").await.0
}

#[tokio::test]
async fn forged_expired_and_malformed_hs256_tokens_are_refused() {
    let stack = Stack::start().await;
    let id = customer_id(&stack).await;
    let api = &stack.gateway;
    let valid = hs256(&claims(&id), TEST_JWT_SECRET);
    assert_eq!(
        status_with(api, &valid).await,
        200,
        "the control token must work"
    );

    let mut attacks: Vec<(&str, String)> = Vec::new();
    // alg: none, no signature.
    let none_header = json!({"alg": "none", "typ": "JWT"});
    attacks.push((
        "alg none",
        format!("{}.{}.", b64(&none_header), b64(&claims(&id))),
    ));
    let none_upper = json!({"alg": "None", "typ": "JWT"});
    attacks.push((
        "alg None",
        format!("{}.{}.", b64(&none_upper), b64(&claims(&id))),
    ));
    // Expired, and not yet valid (beyond the few seconds of leeway).
    let mut expired = claims(&id);
    expired["exp"] = json!(now_secs() - 3600);
    attacks.push(("expired", hs256(&expired, TEST_JWT_SECRET)));
    let mut early = claims(&id);
    early["nbf"] = json!(now_secs() + 3600);
    attacks.push(("not yet valid", hs256(&early, TEST_JWT_SECRET)));
    // Wrong issuer or audience.
    let mut issuer = claims(&id);
    issuer["iss"] = json!("someone-else");
    attacks.push(("wrong iss", hs256(&issuer, TEST_JWT_SECRET)));
    let mut audience = claims(&id);
    audience["aud"] = json!("another-api");
    attacks.push(("wrong aud", hs256(&audience, TEST_JWT_SECRET)));
    // Missing claims.
    for claim in ["exp", "iss", "aud", "sub"] {
        let mut missing = claims(&id);
        missing.as_object_mut().expect("object").remove(claim);
        attacks.push((claim, hs256(&missing, TEST_JWT_SECRET)));
    }
    // Tampered payload (another user) under the original signature.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut other_user = claims("someone-else");
    other_user["role"] = json!("admin");
    attacks.push((
        "tampered payload",
        format!("{}.{}.{}", parts[0], b64(&other_user), parts[2]),
    ));
    // Tampered signature.
    let mut signature = parts[2].to_owned();
    let last = if signature.ends_with('A') { 'B' } else { 'A' };
    signature.pop();
    signature.push(last);
    attacks.push((
        "tampered signature",
        format!("{}.{}.{signature}", parts[0], parts[1]),
    ));
    // Signed with another key.
    attacks.push((
        "another key",
        hs256(&claims(&id), "not-the-gateway-secret-at-all-0123456789"),
    ));
    // Not a JWT at all.
    attacks.push(("garbage", "not.a.jwt".to_owned()));

    for (attack, token) in attacks {
        assert_eq!(status_with(api, &token).await, 401, "{attack} was accepted");
    }
}

/// Serves the test JWKS, as an identity provider such as Cognito would.
async fn jwks_server() -> String {
    let jwks: Value =
        serde_json::from_str(include_str!("../fixtures/jwks.json")).expect("jwks fixture");
    let router = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let api = testing::spawn(router).await;
    format!("{}/.well-known/jwks.json", api.base_url)
}

/// The stack with an identity provider's RS256 keys (from [`jwks_server`]), and an app
/// client that access tokens must name where `cognito_client_id` is given.
async fn stack_with_jwks(cognito_client_id: Option<&str>) -> Stack {
    Stack::start_with(Options {
        keys: JwtKeys::Jwks {
            url: jwks_server().await,
            algorithms: vec![Algorithm::RS256],
            cognito_client_id: cognito_client_id.map(str::to_owned),
        },
        ..Options::default()
    })
    .await
}

/// Registers Ada at the customer service itself and answers her id: with an identity
/// provider, the gateway does not register or log people in.
async fn registered_without_the_gateway(stack: &Stack) -> String {
    let customer = stack
        .services
        .customer
        .post(
            "/customers",
            json!({"email": "ada@example.com", "password": "a long password", "name": "Ada"}),
        )
        .await
        .expect(201);
    customer["id"].as_str().expect("id").to_owned()
}

fn rs256(claims: &Value, pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem"),
    )
    .expect("sign")
}

#[tokio::test]
async fn with_jwks_keys_algorithm_confusion_and_foreign_keys_are_refused() {
    let stack = stack_with_jwks(None).await;
    let id = &registered_without_the_gateway(&stack).await;
    let api = &stack.gateway;
    let private = include_str!("../fixtures/rs256-private.pem");
    let valid = rs256(&claims(id), private, "test-key-1");
    assert_eq!(
        status_with(api, &valid).await,
        200,
        "the control token must work"
    );

    // HS256 "signed" with the RSA public key: the classic algorithm confusion.
    let public = include_str!("../fixtures/rs256-public.pem");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("test-key-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(id),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("sign");
    assert_eq!(
        status_with(api, &confused).await,
        401,
        "algorithm confusion was accepted"
    );

    // A key the gateway does not trust, under the trusted kid and under another.
    let other = include_str!("../fixtures/rs256-other-private.pem");
    assert_eq!(
        status_with(api, &rs256(&claims(id), other, "test-key-1")).await,
        401
    );
    assert_eq!(
        status_with(api, &rs256(&claims(id), other, "other-key")).await,
        401
    );
    // The gateway's own HS256 secret means nothing here.
    assert_eq!(
        status_with(api, &hs256(&claims(id), TEST_JWT_SECRET)).await,
        401
    );
    // Expired, even when correctly signed.
    let mut expired = claims(id);
    expired["exp"] = json!(now_secs() - 3600);
    assert_eq!(
        status_with(api, &rs256(&expired, private, "test-key-1")).await,
        401
    );
    // And login is the identity provider's job.
    stack
        .gateway
        .post(
            "/v1/auth/login",
            json!({"email": "ada@example.com", "password": "a long password"}),
        )
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn with_jwks_a_subject_that_is_no_id_is_refused() {
    let stack = stack_with_jwks(None).await;
    let private = include_str!("../fixtures/rs256-private.pem");
    for sub in ["../admin", "a b", "", &"x".repeat(65)] {
        let token = rs256(&claims(sub), private, "test-key-1");
        assert_eq!(status_with(&stack.gateway, &token).await, 401, "{sub:?}");
    }
}

#[tokio::test]
async fn cognito_access_tokens_of_the_app_client_are_accepted() {
    let stack = stack_with_jwks(Some("app-client-1")).await;
    let id = &registered_without_the_gateway(&stack).await;
    let private = include_str!("../fixtures/rs256-private.pem");
    let now = now_secs();
    let access = |client: &str| {
        json!({"sub": id, "iss": ISSUER, "token_use": "access", "client_id": client,
               "scope": "aws.cognito.signin.user.admin", "iat": now, "exp": now + 600})
    };
    let api = &stack.gateway;
    assert_eq!(
        status_with(api, &rs256(&access("app-client-1"), private, "test-key-1")).await,
        200
    );
    assert_eq!(
        status_with(
            api,
            &rs256(&access("another-client"), private, "test-key-1")
        )
        .await,
        401
    );
    let mut id_token = claims(id);
    id_token["aud"] = json!("app-client-1");
    id_token["token_use"] = json!("id");
    assert_eq!(
        status_with(api, &rs256(&id_token, private, "test-key-1")).await,
        200
    );
    // A token without `token_use` (e.g. meant for another API) is refused.
    assert_eq!(
        status_with(api, &rs256(&claims(id), private, "test-key-1")).await,
        401
    );
}
