//! The customer service over HTTP against DynamoDB Local, one fresh table per test.

use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method};

async fn customer_service() -> Api {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, customer::TABLE).await;
    testing::spawn(customer::router(client, &config)).await
}

fn ada() -> Value {
    json!({"email": " Ada@Example.com ", "password": "analytical engine", "name": "Ada Lovelace"})
}

#[tokio::test]
async fn register_returns_201_with_a_normalised_email_and_no_password_hash() {
    let api = customer_service().await;
    let customer = api.post("/customers", ada()).await.expect(201);
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(customer["name"], "Ada Lovelace");
    assert_eq!(customer["role"], "customer");
    assert!(customer.get("password_hash").is_none());
    assert!(customer.get("password").is_none());

    let fetched = api
        .get(&format!(
            "/customers/{}",
            customer["id"].as_str().expect("id")
        ))
        .await
        .expect(200);
    assert_eq!(fetched, customer);
}

#[tokio::test]
async fn repeating_a_registration_returns_the_same_customer() {
    let api = customer_service().await;
    let first = api.post("/customers", ada()).await.expect(201);
    let again = api.post("/customers", ada()).await.expect(200);
    assert_eq!(first, again);
}

#[tokio::test]
async fn registering_a_taken_email_differently_returns_409() {
    let api = customer_service().await;
    api.post("/customers", ada()).await.expect(201);
    let mut other = ada();
    other["password"] = json!("a different password");
    other["email"] = json!("ADA@example.com");
    api.post("/customers", other)
        .await
        .expect_problem(409, "email-taken");
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_one_customer() {
    let api = customer_service().await;
    let attempts = (0..10).map(|i| {
        let api = api.clone();
        async move {
            let mut body = ada();
            body["password"] = json!(format!("password number {i}"));
            api.post("/customers", body).await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!((created, refused), (1, 9), "{replies:#?}");
}

#[tokio::test]
async fn an_admin_can_be_registered_with_the_admin_role() {
    let api = customer_service().await;
    let mut admin = ada();
    admin["role"] = json!("admin");
    let customer = api.post("/customers", admin).await.expect(201);
    assert_eq!(customer["role"], "admin");
}

#[tokio::test]
async fn verify_accepts_the_right_password_only() {
    let api = customer_service().await;
    let customer = api.post("/customers", ada()).await.expect(201);

    let verified = api
        .post(
            "/credentials/verify",
            json!({"email": "ADA@example.com", "password": "analytical engine"}),
        )
        .await
        .expect(200);
    assert_eq!(verified["id"], customer["id"]);

    for (email, password) in [
        ("ada@example.com", "difference engine"),
        ("nobody@example.com", "analytical engine"),
        ("not-an-email", "analytical engine"),
        ("ada@example.com", "short"),
    ] {
        api.post(
            "/credentials/verify",
            json!({"email": email, "password": password}),
        )
        .await
        .expect_problem(401, "invalid-credentials");
    }
}

#[tokio::test]
async fn update_changes_only_the_given_fields() {
    let api = customer_service().await;
    let customer = api.post("/customers", ada()).await.expect(201);
    let path = format!("/customers/{}", customer["id"].as_str().expect("id"));

    let updated = api
        .patch(
            &path,
            json!({"shipping_address": "12 St James's Square\nLondon"}),
        )
        .await
        .expect(200);
    assert_eq!(updated["name"], "Ada Lovelace");
    assert_eq!(updated["shipping_address"], "12 St James's Square\nLondon");

    let renamed = api
        .patch(&path, json!({"name": "Augusta Ada King"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Augusta Ada King");
    assert_eq!(renamed["shipping_address"], "12 St James's Square\nLondon");
    assert_eq!(api.get(&path).await.expect(200), renamed);
}

#[tokio::test]
async fn unknown_customers_are_404_and_never_created_by_an_update() {
    let api = customer_service().await;
    api.get("/customers/no-such-id")
        .await
        .expect_problem(404, "not-found");
    api.patch("/customers/no-such-id", json!({"name": "Ghost"}))
        .await
        .expect_problem(404, "not-found");
    api.get("/customers/no-such-id")
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn invalid_registrations_are_422_and_write_nothing() {
    let api = customer_service().await;
    let cases = [
        json!({"email": "ada", "password": "analytical engine", "name": "Ada"}),
        json!({"email": "ada@example.com", "password": "short", "name": "Ada"}),
        json!({"email": "ada@example.com", "password": "analytical engine", "name": "  "}),
        json!({"email": "ada@example.com", "password": "analytical engine", "name": "Ada", "role": "root"}),
        json!({"email": "ada@example.com", "password": "analytical engine", "name": "Ada", "extra": 1}),
        json!({"email": "ada@example.com", "password": 12345678, "name": "Ada"}),
        json!({"email": "ada@example.com", "name": "Ada"}),
    ];
    for body in cases {
        let reply = api.post("/customers", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
        assert_eq!(reply.content_type, "application/problem+json");
    }
    // Nothing was written: the email is still free.
    let mut valid = ada();
    valid["email"] = json!("ada@example.com");
    api.post("/customers", valid).await.expect(201);
}

#[tokio::test]
async fn invalid_updates_are_422() {
    let api = customer_service().await;
    let customer = api.post("/customers", ada()).await.expect(201);
    let path = format!("/customers/{}", customer["id"].as_str().expect("id"));
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": 7}),
        json!({"email": "new@example.com"}),
        json!({"shipping_address": "x".repeat(501)}),
    ] {
        let reply = api.patch(&path, body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    assert_eq!(api.get(&path).await.expect(200), customer);
}

#[tokio::test]
async fn unparseable_bodies_are_rejected_on_every_endpoint() {
    let api = customer_service().await;
    api.assert_rejects_unparseable_bodies(Method::POST, "/customers")
        .await;
    api.assert_rejects_unparseable_bodies(Method::PATCH, "/customers/any")
        .await;
    api.assert_rejects_unparseable_bodies(Method::POST, "/credentials/verify")
        .await;
    api.assert_rejects_unparseable_bodies(Method::PUT, "/customers/any/password")
        .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let api = customer_service().await;
    api.get("/nope").await.expect_problem(404, "not-found");
    api.send(Method::DELETE, "/customers/x", None)
        .await
        .expect_problem(405, "method-not-allowed");
}

#[tokio::test]
async fn when_down_it_answers_503_but_can_still_be_brought_back() {
    let api = customer_service().await;
    api.set_failure_mode("down").await;
    api.post("/customers", ada())
        .await
        .expect_problem(503, "service-unavailable");
    assert_eq!(api.get("/health").await.expect(200)["status"], "ok");
    assert_eq!(
        api.get("/admin/failure-mode").await.expect(200)["mode"],
        "down"
    );

    api.set_failure_mode("off").await;
    api.post("/customers", ada()).await.expect(201);
}

async fn login_works(api: &Api, password: &str) -> bool {
    let reply = api
        .post(
            "/credentials/verify",
            json!({"email": "ada@example.com", "password": password}),
        )
        .await;
    reply.status == 200
}

#[tokio::test]
async fn a_password_changes_with_the_current_one_and_a_retry_is_the_same_change() {
    let api = customer_service().await;
    let customer = api.post("/customers", ada()).await.expect(201);
    let path = format!(
        "/customers/{}/password",
        customer["id"].as_str().expect("id")
    );
    let change =
        json!({"current_password": "analytical engine", "new_password": "difference engine"});

    let changed = api
        .send(Method::PUT, &path, Some(change.clone()))
        .await
        .expect(200);
    assert_eq!(changed["id"], customer["id"]);
    assert!(changed.get("password_hash").is_none());
    assert!(login_works(&api, "difference engine").await);
    assert!(!login_works(&api, "analytical engine").await);
    // The same request again (a retry): the change is made, so it is success.
    api.send(Method::PUT, &path, Some(change)).await.expect(200);
    assert!(login_works(&api, "difference engine").await);

    // A wrong current password changes nothing.
    api.send(
        Method::PUT,
        &path,
        Some(json!({"current_password": "analytical engine", "new_password": "babbage's engine"})),
    )
    .await
    .expect_problem(401, "invalid-credentials");
    // Nor does a new password that breaks the rules.
    api.send(
        Method::PUT,
        &path,
        Some(json!({"current_password": "difference engine", "new_password": "short"})),
    )
    .await
    .expect_problem(422, "validation-failed");
    assert!(login_works(&api, "difference engine").await);
    api.send(
        Method::PUT,
        "/customers/nobody/password",
        Some(json!({"current_password": "difference engine", "new_password": "another engine"})),
    )
    .await
    .expect_problem(404, "not-found");
}
