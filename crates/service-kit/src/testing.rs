//! Test support (feature `test-support`): every service's integration tests run the
//! real router over real HTTP against DynamoDB Local, each test in a fresh table.
//!
//! `infra/test.sh` starts DynamoDB Local and exports `AWS_ENDPOINT_URL_DYNAMODB`,
//! region and dummy credentials before running the tests.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use axum::Router;
pub use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::config::ServiceConfig;

/// A DynamoDB client for the tests, from the same environment chain the services use.
pub async fn dynamo() -> Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "integration tests need DynamoDB Local: run them with infra/test.sh"
    );
    crate::dynamo::client_from_env().await
}

/// A Secrets Manager client for the tests. No Secrets Manager runs offline: `infra/test.sh`
/// starts moto's server, which speaks its API, and exports
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
pub async fn secrets_manager() -> aws_sdk_secretsmanager::Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_some(),
        "integration tests need a Secrets Manager endpoint: run them with infra/test.sh"
    );
    aws_sdk_secretsmanager::Client::new(&crate::aws::config().await)
}

/// Stores `value` as a new, uniquely named secret and returns its ARN.
pub async fn new_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create a test secret")
        .arn()
        .expect("the secret's ARN")
        .to_owned()
}

/// Creates a uniquely named table with `owner`'s definition, so tests never share state.
pub async fn fresh_table(client: &Client, owner: &str) -> ServiceConfig {
    let name = format!("test-{owner}-{}", uuid::Uuid::new_v4().simple());
    crate::tables::create(client, owner, &name)
        .await
        .expect("create test table");
    ServiceConfig::for_table(name)
}

/// Serves `router` with the production edge layers on an ephemeral port, as a plain
/// HTTP server serves it (with `/metrics`), its metrics labelled `service="test"`.
pub async fn spawn(router: Router) -> Api {
    spawn_as("test", router).await
}

/// [`spawn`], its metrics labelled with this `service` name.
pub async fn spawn_as(service: &'static str, router: Router) -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let app = crate::serve::local(service, router);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    Api {
        base_url: format!("http://{address}"),
        http: reqwest::Client::new(),
    }
}

/// A running service and an HTTP client for it.
#[derive(Clone)]
pub struct Api {
    pub base_url: String,
    pub http: reqwest::Client,
}

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts `status` and returns the body, showing the whole reply on mismatch.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {self:#?}");
        self.body
    }

    /// Asserts a problem+json reply with this status and type slug.
    #[track_caller]
    pub fn expect_problem(self, status: u16, slug: &str) -> Value {
        assert_eq!(
            self.content_type,
            crate::problem::CONTENT_TYPE,
            "not a problem: {self:#?}"
        );
        let body = self.expect(status);
        assert_eq!(body["type"], format!("/problems/{slug}"), "{body:#}");
        assert_eq!(body["status"], status);
        body
    }
}

impl Api {
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// Sends a raw body with the given content type (malformed-input tests).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", content_type)
            .body(body);
        Self::reply(request).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request).await
    }

    /// Switches the service's failure injection to `mode` ("down", "decline", "off"...).
    pub async fn set_failure_mode(&self, mode: &str) {
        self.put("/admin/failure-mode", serde_json::json!({ "mode": mode }))
            .await
            .expect(200);
    }

    /// Asserts the answers every JSON endpoint gives to bodies that are not JSON at
    /// all: malformed (400), not declared as JSON (415) and oversized (413).
    pub async fn assert_rejects_unparseable_bodies(&self, method: Method, path: &str) {
        self.send_raw(method.clone(), path, "application/json", "{not json")
            .await
            .expect_problem(400, "malformed-json");
        self.send_raw(method.clone(), path, "text/plain", "{}")
            .await
            .expect_problem(415, "unsupported-media-type");
        let oversized = format!(
            "{{\"padding\":\"{}\"}}",
            "x".repeat(crate::extract::MAX_BODY_BYTES)
        );
        self.send_raw(method, path, "application/json", oversized)
            .await
            .expect_problem(413, "body-too-large");
    }

    pub async fn reply(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the service");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.expect("read body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "body is not JSON ({status}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Reply {
            status,
            content_type,
            headers,
            body,
        }
    }
}

/// Asserts that of the `replies` to one request sent many times at once, exactly one
/// created (201) and every other found it created (200).
#[track_caller]
pub fn assert_created_once(replies: &[Reply]) {
    let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
    assert_eq!(count(201), 1, "{replies:#?}");
    assert_eq!(count(200), replies.len() - 1, "{replies:#?}");
}

/// The string `field` of every item of the JSON array `items`, in order: the statuses
/// of an order's history, say.
pub fn each_str<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item[field].as_str().expect(field))
        .collect()
}

/// An answer as a service would send it, for tests of how callers sort answers.
pub fn answer(status: u16, content_type: &str, body: &str) -> reqwest::Response {
    let response = axum::http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body.to_owned())
        .expect("a response");
    reqwest::Response::from(response)
}

/// Polls `check` until it yields a value, failing the test once `within` has passed.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
