use super::*;

fn config() -> JwtConfig {
    JwtConfig {
        keys: JwtKeys::Secret(SecretSource::Value(
            "a-test-secret-that-is-long-enough-for-hs256".into(),
        )),
        issuer: "issuer".into(),
        audience: "audience".into(),
        access_ttl: Duration::from_secs(60),
        refresh_ttl: Duration::from_secs(600),
    }
}

#[tokio::test]
async fn an_issued_token_verifies_to_its_user_and_role() {
    let tokens = Tokens::new(config(), reqwest::Client::new()).await;
    let issued = tokens.issue("u-1", Role::Admin, 3).await.expect("issued");
    let user = tokens.verify(&issued.access_token).await.expect("valid");
    assert_eq!(user.id, "u-1");
    assert_eq!(user.role, Role::Admin);
    assert_eq!(user.token_version, 3);
    assert_eq!(issued.expires_in, 60);
}

#[test]
fn cognito_tokens_must_be_of_this_app_client() {
    let claims =
        |json: Value| -> HashMap<String, Value> { serde_json::from_value(json).expect("map") };
    let ok = |json| check_cognito_client(&claims(json), "app-1").is_ok();
    assert!(ok(
        serde_json::json!({"token_use": "access", "client_id": "app-1"})
    ));
    assert!(ok(serde_json::json!({"token_use": "id", "aud": "app-1"})));
    assert!(!ok(
        serde_json::json!({"token_use": "access", "client_id": "app-2"})
    ));
    assert!(!ok(
        serde_json::json!({"token_use": "access", "aud": "app-1"})
    ));
    assert!(!ok(
        serde_json::json!({"token_use": "refresh", "client_id": "app-1"})
    ));
    assert!(!ok(serde_json::json!({"client_id": "app-1"})));
}

#[test]
fn admins_are_recognised_by_role_or_cognito_group() {
    let claims =
        |json: Value| -> HashMap<String, Value> { serde_json::from_value(json).expect("map") };
    assert_eq!(
        role_of(&claims(serde_json::json!({"role": "admin"}))),
        Role::Admin
    );
    assert_eq!(
        role_of(&claims(
            serde_json::json!({"cognito:groups": ["staff", "admin"]})
        )),
        Role::Admin
    );
    assert_eq!(
        role_of(&claims(serde_json::json!({"role": "root"}))),
        Role::Customer
    );
    assert_eq!(role_of(&claims(serde_json::json!({}))), Role::Customer);
}
