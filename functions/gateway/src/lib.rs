//! The API gateway/BFF: the only public entry of the system. A versioned `/v1` API
//! described by a generated OpenAPI 3.1 document, JWT authentication, object-level
//! authorization, a per-principal rate limit shared by every instance, orders placed
//! asynchronously on the saga, and real-time events over WebSocket.

// First: the groups below register their routes with its `api_routes!`.
#[macro_use]
pub mod routes;

pub mod auth;
pub mod breakers;
pub mod client_ip;
pub mod config;
pub mod downstream;
pub mod events;
pub mod models;
pub mod openapi;
pub mod operations;
pub mod orders;
pub mod ratelimit;
pub mod temporal_credentials;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use service_kit::config::ConfigError;
use service_kit::extract::Json;
use service_kit::payload_codec::PayloadKeys;
use service_kit::secrets::Secret;
use service_kit::serve::BoxError;
use service_kit::sigv4::RequestSigner;
use service_kit::startup::mark;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;

use crate::auth::Auth;
use crate::breakers::BreakerBoard;
use crate::client_ip::TrustedProxies;
use crate::config::{GatewayConfig, JwtKeys, SecretSource};
use crate::downstream::Downstream;
use crate::events::Events;
use crate::orders::Orders;
use crate::orders::saga::Sagas;
use crate::ratelimit::RateLimiter;
use crate::temporal_credentials::TemporalCredentials;

/// The owner names of the gateway's tables in `infra/tables.json`.
pub const TABLE: &str = "gateway";
pub const RATE_LIMIT_TABLE: &str = "ratelimits";
pub const BREAKERS_TABLE: &str = "breakers";

/// Everything a request may need, built once per instance: one part per group, and
/// what every route shares.
pub struct AppState {
    pub config: GatewayConfig,
    pub services: Downstream,
    /// Requests per principal, for every route.
    pub limiter: Arc<RateLimiter>,
    pub breakers: BreakerBoard,
    pub auth: Auth,
    pub events: Events,
    pub orders: Orders,
}

impl AppState {
    pub async fn new(
        config: GatewayConfig,
        dynamo: aws_sdk_dynamodb::Client,
        sagas: Sagas,
        signer: Option<RequestSigner>,
    ) -> Result<Self, BoxError> {
        Ok(Self {
            services: Downstream::new(&config.services, config.downstream_timeout, signer)?,
            limiter: Arc::new(RateLimiter::new(
                dynamo.clone(),
                &config.rate_limit_table,
                config.rate_limit,
                config.trusted_proxies.clone(),
            )),
            breakers: BreakerBoard::new(dynamo.clone(), &config.breakers_table),
            auth: Auth::new(&config, &dynamo).await?,
            events: Events::new(&config, &dynamo).await,
            orders: Orders::new(&config, &dynamo, sagas),
            config,
        })
    }
}

/// The whole gateway. Requests pass, outermost first: CORS, the AWS WebSocket API
/// events, authentication, the rate limit, then the route.
pub fn router(state: Arc<AppState>) -> Router {
    let (api, description) = routes::api().into_parts();
    // Built at the first request for it: see routes/documented.rs.
    let document = Arc::new(OnceLock::new());
    api.route(
        "/v1/openapi.json",
        get(move || {
            let document = document.clone();
            let description = description.clone();
            async move { Json(document.get_or_init(|| openapi_of(&description)).clone()) }
        }),
    )
    .with_state(state.clone())
    // One stack, so that each route is wrapped once (see service_kit::serve::edge).
    .layer(
        ServiceBuilder::new()
            .layer(cors(&state.config))
            .layer(from_fn_with_state(
                state.clone(),
                events::routes::aws_websocket,
            ))
            .layer(from_fn_with_state(state.clone(), auth::authenticate))
            .layer(from_fn_with_state(state.limiter.clone(), ratelimit::limit)),
    )
    .route(
        "/health",
        get(|| async { Json(serde_json::json!({"status": "ok"})) }),
    )
}

fn openapi_of(description: &routes::documented::Description) -> utoipa::openapi::OpenApi {
    let mut document = description.document(openapi::ApiDoc::openapi());
    openapi::add_common_responses(&mut document);
    document
}

/// The OpenAPI document of the API, as served at `/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi_of(&routes::api().into_parts().1)
}

/// The browser origins allowed to call the API: the UI's (`CORS_ALLOWED_ORIGINS`), and
/// for the codec endpoint only, the Temporal Web UI's (of `TEMPORAL_UI_URL`).
fn cors(config: &GatewayConfig) -> CorsLayer {
    let app: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    let temporal_ui = config
        .temporal_ui_origin()
        .and_then(|origin| HeaderValue::from_str(&origin).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            if request.uri.path().starts_with(routes::codec::PATH_PREFIX) {
                temporal_ui.as_ref() == Some(origin)
            } else {
                app.contains(origin)
            }
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            // The UI's trace context (W3C Trace Context), on every call.
            HeaderName::from_static("traceparent"),
            // Sent by the Temporal Web UI to the codec endpoint.
            HeaderName::from_static("x-namespace"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit"),
            HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(Duration::from_secs(600))
}

/// `TRUSTED_PROXIES=cloudfront` with the origin secret CloudFront sends
/// (`CLOUDFRONT_ORIGIN_SECRET`, or `_ARN` in Secrets Manager): without it the gateway
/// refuses to start rather than believe a header anyone can send.
async fn with_origin_secret(trusted: TrustedProxies) -> Result<TrustedProxies, BoxError> {
    if !matches!(trusted, TrustedProxies::CloudFront { .. }) {
        return Ok(trusted);
    }
    let secret = Secret::from_env("CLOUDFRONT_ORIGIN_SECRET")
        .await?
        .ok_or_else(|| {
            ConfigError::new(
                "TRUSTED_PROXIES=cloudfront needs CLOUDFRONT_ORIGIN_SECRET or CLOUDFRONT_ORIGIN_SECRET_ARN",
            )
        })?;
    Ok(trusted.with_origin_secret(secret.get().await?)?)
}

/// The gateway's `main`: configuration, clients, then serve (under Lambda or HTTP).
pub async fn run_from_env() -> Result<(), BoxError> {
    mark("main");
    service_kit::telemetry::init("gateway");
    mark("telemetry");
    let mut config = GatewayConfig::from_env()?;
    config.trusted_proxies = with_origin_secret(config.trusted_proxies).await?;
    mark("config");
    let dynamo = service_kit::dynamo::client_from_env().await;
    if matches!(config.jwt.keys, JwtKeys::Secret(SecretSource::Development)) {
        tracing::warn!(
            "signing tokens with the PUBLIC development secret (ALLOW_DEV_JWT_SECRET=true): \
             anyone can forge tokens for this gateway; never expose it"
        );
    }
    let payload_keys = PayloadKeys::configured().await?;
    let sagas = Sagas::new(config.task_queue.clone(), payload_keys.clone())
        .with_credentials(TemporalCredentials::from_env().await?);
    let signer = RequestSigner::from_env().await?;
    mark("signer");
    let state = AppState::new(config, dynamo, sagas, signer).await?;
    mark("state");
    // The secrets are checked now, at once (on AWS each is a Secrets Manager round
    // trip): without any of them the gateway refuses to start.
    let payload_keys_ready = async {
        match &payload_keys {
            Some(keys) => keys.check().await,
            None => Ok(()),
        }
    };
    let (jwt_checked, keys_checked, temporal_checked) = tokio::join!(
        state.auth.tokens.ready(),
        payload_keys_ready,
        state.orders.sagas.ready()
    );
    jwt_checked?;
    keys_checked?;
    temporal_checked?;
    mark("secrets");
    let router = router(Arc::new(state));
    mark("router");
    service_kit::serve::run("gateway", router).await
}
