//! The real stack behind the gateway: the five services on fresh tables in DynamoDB
//! Local, the gateway's own tables, optionally the saga worker (in this process) on a
//! task queue of its own, and the gateway itself, all over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use gateway::config::{
    GatewayConfig, JwtConfig, JwtKeys, RateLimitConfig, SecretSource, TrustedProxies,
};
use gateway::orders::saga::Sagas;
use gateway::{AppState, BREAKERS_TABLE, RATE_LIMIT_TABLE, TABLE};
use saga_contract::ApprovalPolicy;
use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method, Reply};
use service_kit::{payload_codec, services};
use worker::breaker::BreakerSettings;
use worker::config::WorkerConfig;
use worker::testing::{InProcessWorker, ServiceOptions, Services};

/// The HS256 secret the test gateways sign with.
pub const TEST_JWT_SECRET: &str = "a-test-secret-of-more-than-32-bytes-0123456789";

pub struct Stack {
    pub gateway: Api,
    pub services: Services,
    pub config: GatewayConfig,
    pub temporal: temporalio_client::Client,
    /// The gateway's state, for requests that only Lambda can deliver (WebSocket API
    /// events), sent straight to its router.
    pub state: Arc<AppState>,
    _worker: Option<InProcessWorker>,
}

/// How a test wants its gateway.
pub struct Options {
    pub worker: bool,
    pub websocket_endpoint: Option<String>,
    pub trusted_proxies: TrustedProxies,
    pub keys: JwtKeys,
    pub rate_limit: RateLimitConfig,
    pub order_rate: RateLimitConfig,
    pub approval: ApprovalPolicy,
    /// The services' failure switchboard (and so the load generator).
    pub failure_injection: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            worker: false,
            websocket_endpoint: None,
            trusted_proxies: TrustedProxies::None,
            keys: JwtKeys::Secret(SecretSource::Value(TEST_JWT_SECRET.to_owned())),
            rate_limit: RateLimitConfig {
                per_minute: 6000,
                burst: 1000,
                lease: 5,
            },
            order_rate: RateLimitConfig {
                per_minute: 6000,
                burst: 1000,
                lease: 1,
            },
            approval: ApprovalPolicy {
                threshold: 100_000,
                timeout_secs: 900,
            },
            failure_injection: true,
        }
    }
}

/// A gateway with a small request limit (3 at once, 6 a minute) that believes
/// `trusted_proxies`.
pub fn small_limit(trusted_proxies: TrustedProxies) -> Options {
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

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn with_worker() -> Self {
        Self::start_with(Options {
            worker: true,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(options: Options) -> Self {
        let dynamo = testing::dynamo().await;
        let table = |owner: &'static str| testing::fresh_table(&dynamo, owner);
        let service_options = ServiceOptions {
            failure_injection: options.failure_injection,
            ..ServiceOptions::default()
        };
        let services = Services::start(&dynamo, service_options).await;
        let task_queue = format!("gateway-test-{}", uuid::Uuid::new_v4().simple());
        let breakers_table = table(BREAKERS_TABLE).await.table_name;
        let temporal = worker::connect_with(Some(payload_codec::test_keys()))
            .await
            .expect("connect to the Temporal dev server");
        let worker = options.worker.then(|| {
            let breaker = BreakerSettings {
                failure_threshold: 3,
                cool_down: Duration::from_secs(2),
            };
            InProcessWorker::start(WorkerConfig {
                breakers_table: Some(breakers_table.clone()),
                ..services.worker_config(&task_queue, breaker)
            })
        });
        let config = GatewayConfig {
            services: services.urls_for("gateway"),
            table: table(TABLE).await.table_name,
            rate_limit_table: table(RATE_LIMIT_TABLE).await.table_name,
            breakers_table,
            jwt: JwtConfig {
                keys: options.keys,
                issuer: "order-saga-gateway".into(),
                audience: "order-saga-api".into(),
                access_ttl: Duration::from_secs(900),
                refresh_ttl: Duration::from_secs(3600),
            },
            rate_limit: options.rate_limit,
            order_rate: options.order_rate,
            cors_origins: vec!["http://localhost:5173".into()],
            trusted_proxies: options.trusted_proxies,
            task_queue: task_queue.clone(),
            approval: options.approval,
            downstream_timeout: Duration::from_secs(10),
            event_poll_interval: Duration::from_millis(100),
            checkout_wait: Duration::from_secs(3),
            temporal_ui_url: Some("http://localhost:8233".into()),
            trace_ui_url: Some("http://localhost:16686/trace/{trace_id}".into()),
            temporal_namespace: "default".into(),
            websocket_endpoint: options.websocket_endpoint,
        };
        let sagas = Sagas::with_client(
            temporal.clone(),
            task_queue,
            Some(payload_codec::test_keys()),
        );
        let state = AppState::new(config.clone(), dynamo.clone(), sagas, None)
            .await
            .expect("gateway state");
        let state = Arc::new(state);
        let gateway = testing::spawn_as("gateway", gateway::router(state.clone())).await;
        Self {
            gateway,
            services,
            config,
            temporal,
            state,
            _worker: worker,
        }
    }

    pub async fn add_product(&self, sku: &str, available: u32, price: u64) {
        self.services.add_product(sku, available, price).await;
    }

    /// Registers through the gateway and logs in: (user id, tokens).
    pub async fn customer(&self, email: &str) -> (String, Value) {
        let customer = self
            .gateway
            .post(
                "/v1/auth/register",
                json!({"email": email, "password": "a long password", "name": "Test Customer"}),
            )
            .await
            .expect(201);
        let tokens = self.login(email).await;
        (customer["id"].as_str().expect("id").to_owned(), tokens)
    }

    /// An administrator (made in the customer service, as an admin would) and its tokens.
    pub async fn admin(&self) -> Value {
        self.services
            .customer
            .post(
                "/customers",
                json!({"email": "root@example.com", "password": "a long password", "name": "Admin", "role": "admin"}),
            )
            .await
            .expect(201);
        self.login("root@example.com").await
    }

    pub async fn login(&self, email: &str) -> Value {
        self.login_with_cookie(email).await.0
    }

    /// Logs in: the body (the access token) and the refresh token from its cookie.
    pub async fn login_with_cookie(&self, email: &str) -> (Value, String) {
        let reply = self
            .gateway
            .post(
                "/v1/auth/login",
                json!({"email": email, "password": "a long password"}),
            )
            .await;
        let cookie = refresh_cookie(&reply).expect("a refresh token cookie");
        (reply.expect(200), cookie)
    }

    /// POSTs to `path` (refresh, logout) with the refresh token cookie.
    pub async fn with_refresh_cookie(&self, path: &str, refresh_token: &str) -> Reply {
        let request = self
            .gateway
            .http
            .post(format!("{}{path}", self.gateway.base_url))
            .header("cookie", format!("refresh_token={refresh_token}"));
        Api::reply(request).await
    }
}

/// The refresh token a reply sets as a cookie, if it sets one with a value.
pub fn refresh_cookie(reply: &Reply) -> Option<String> {
    set_cookie(reply, "refresh_token")
}

/// The value of the cookie `name` a reply sets, if it sets one with a value.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(';').next())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The gateway binary as its own process, on the stack's services and tables, with
/// `extra` settings on top; killed on drop.
pub struct GatewayProcess {
    child: std::process::Child,
    pub url: String,
}

impl GatewayProcess {
    pub async fn start(stack: &Stack, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let config = &stack.config;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
        command
            .env("PORT", port.to_string())
            .env("JWT_SECRET", TEST_JWT_SECRET)
            .env("PAYLOAD_KEYS", payload_codec::test_ring_json())
            .envs(services::url_variables(&config.services))
            .env("TABLE_NAME", &config.table)
            .env("RATE_LIMIT_TABLE", &config.rate_limit_table)
            .env("BREAKERS_TABLE", &config.breakers_table)
            .env("TASK_QUEUE", &config.task_queue)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        for (name, value) in extra {
            command.env(name, value);
        }
        let process = Self {
            child: command.spawn().expect("start the gateway binary"),
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{}/health", process.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process
    }

    /// An API client of this gateway.
    pub fn api(&self) -> Api {
        Api {
            base_url: self.url.clone(),
            http: reqwest::Client::new(),
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it yields a value, failing after a minute.
pub async fn wait_for<F, Fut>(what: &str, check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    testing::eventually(Duration::from_secs(60), what, check).await
}

/// Calls through the gateway as someone.
pub struct As<'a> {
    pub api: &'a Api,
    pub token: String,
}

impl<'a> As<'a> {
    pub fn new(api: &'a Api, tokens: &Value) -> Self {
        Self {
            api,
            token: tokens["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .api
            .http
            .request(method, format!("{}{path}", self.api.base_url))
            .bearer_auth(&self.token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Api::reply(request).await
    }

    /// Sets `service`'s failure mode (`down`, `off`…) through the admin API.
    pub async fn set_failure_mode(&self, service: &str, mode: &str) -> Reply {
        let path = format!("/v1/admin/services/{service}/failure-mode");
        let body = json!({ "mode": mode });
        self.send(Method::PUT, &path, Some(body), &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// Polls the order's detail until its saga has completed it; the detail.
    pub async fn until_completed(&self, order_id: &str) -> Value {
        wait_for("the order to complete", || async {
            let detail = self
                .get(&format!("/v1/orders/{order_id}"))
                .await
                .expect(200);
            (detail["status"] == "COMPLETED").then_some(detail)
        })
        .await
    }

    pub async fn order(&self, key: &str, lines: Value, method: &str) -> Reply {
        self.send(
            Method::POST,
            "/v1/orders",
            Some(json!({"lines": lines, "payment_method": method})),
            &[("idempotency-key", key)],
        )
        .await
    }
}
