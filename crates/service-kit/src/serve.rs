//! The entry point every function shares: the same `Router` runs under the Lambda
//! runtime (in AWS and under `cargo lambda watch`) or as a plain HTTP server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::config::{self, ServiceConfig};
use crate::extract::MAX_BODY_BYTES;
use crate::problem::Problem;
use crate::startup::mark;
use aws_sdk_dynamodb::Client;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const REQUEST_ID: &str = "x-request-id";

/// True inside a Lambda execution environment, including `cargo lambda watch`.
pub fn running_in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// `<binary> --health` probes the server this binary runs on this host (`PORT`) and
/// exits 0 when it answers `/health`: a health check for images without a shell.
pub async fn answer_health_check_flag() {
    if std::env::args().nth(1).as_deref() != Some("--health") {
        return;
    }
    let port: u16 = config::optional("PORT", 3000).unwrap_or(3000);
    probe_and_exit(&format!("http://127.0.0.1:{port}/health")).await
}

/// Exits 0 when `url` answers 2xx within two seconds, 1 otherwise.
pub async fn probe_and_exit(url: &str) -> ! {
    let healthy = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(http) => http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    };
    std::process::exit(if healthy { 0 } else { 1 })
}

/// The whole `main` of a domain service: logging, configuration, the DynamoDB client,
/// then [`run`] with the router `build` makes from them. `service` names it in metrics;
/// `table` is the service's table in `infra/tables.json`.
pub async fn run_service(
    service: &'static str,
    table: &str,
    build: impl FnOnce(Client, &ServiceConfig) -> Router,
) -> Result<(), BoxError> {
    answer_health_check_flag().await;
    mark("main");
    crate::telemetry::init(service);
    mark("telemetry");
    let config = ServiceConfig::from_env(table)?;
    mark("config");
    let client = crate::dynamo::client_from_env().await;
    let router = build(client, &config);
    mark("router");
    run(service, router).await
}

/// Serves `router` under the Lambda runtime when one is present, otherwise on
/// `HOST:PORT` (default 127.0.0.1:3000) until SIGINT or SIGTERM. Request metrics are
/// labelled `service`: CloudWatch EMF lines under Lambda, `GET /metrics` otherwise.
pub async fn run(service: &'static str, router: Router) -> Result<(), BoxError> {
    if running_in_lambda() {
        crate::metrics::install_emf();
        let app = edge(service, router);
        mark("runtime");
        return run_in_lambda(app).await;
    }
    let app = local(service, router);
    let host: IpAddr = config::optional("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    let port: u16 = config::optional("PORT", 3000)?;
    let listener = TcpListener::bind(SocketAddr::new(host, port)).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    // With the peer's address, for rate limiting by client IP.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    crate::telemetry::shutdown();
    Ok(())
}

/// Hands each invocation to the router. Responses are buffered into Lambda's body type
/// (Lambda buffers them anyway), which lets invocations run concurrently where the
/// runtime allows it (`cargo lambda watch`, Lambda managed instances).
async fn run_in_lambda(app: Router) -> Result<(), BoxError> {
    let handler = lambda_http::service_fn(move |request: lambda_http::Request| {
        let app = app.clone();
        async move {
            let response = match app.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = lambda_http::IntoResponse::into_response(response).await;
            crate::metrics::flush_emf();
            crate::telemetry::flush().await;
            Ok::<_, lambda_http::Error>(response)
        }
    });
    lambda_http::run_concurrent(handler).await
}

async fn method_not_allowed_as_problem(response: Response) -> Response {
    let is_problem = response.headers().get(header::CONTENT_TYPE)
        == Some(&HeaderValue::from_static(crate::problem::CONTENT_TYPE));
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || is_problem {
        return response;
    }
    let mut problem = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    )
    .into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

/// The edge of a service served over plain HTTP (not Lambda): [`edge`], and the
/// Prometheus rendering of the process's metrics at `GET /metrics`, on the service's
/// own address. Never public: the services are private, and the gateway's `/metrics`
/// exists only off Lambda (by default on 127.0.0.1; compose publishes it on the host's
/// loopback). It bypasses the gateway's authentication and rate limit, like `/health`.
pub fn local(service: &'static str, router: Router) -> Router {
    let router = match crate::metrics::prometheus() {
        Some(handle) => router.route(
            "/metrics",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    )],
                    handle.render(),
                )
            }),
        ),
        None => router,
    };
    edge(service, router)
}

/// Wraps a service's routes with what every edge needs: problem+json for unknown
/// routes, wrong methods, oversized bodies and panics, a span per request, request
/// metrics labelled `service` (see [`crate::metrics`]), and
/// `X-Content-Type-Options: nosniff` on every answer.
pub fn edge(service: &'static str, router: Router) -> Router {
    router
        .fallback(|| async { Problem::not_found("There is no such resource.") })
        // Not `method_not_allowed_fallback`: it would replace each route's own 405
        // answer, and with it the layers the router put around that answer (a CORS
        // layer's preflight replies, for one).
        // One stack, outermost first, so that each route is wrapped once rather than
        // once per layer: the same order as one `.layer` call per layer in reverse, for
        // a fraction of the work at start (and one boxed service per request, not one
        // per layer).
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    service,
                    crate::metrics::track_requests,
                ))
                .layer(middleware::map_response(nosniff))
                .layer(CatchPanicLayer::custom(|_panic| {
                    // The panic message was already printed by the panic hook; it may
                    // hold internal detail, so the client gets the opaque problem.
                    tracing::error!("request handler panicked");
                    Problem::internal().into_response()
                }))
                .layer(middleware::from_fn_with_state(service, request_span))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .layer(middleware::map_response(method_not_allowed_as_problem)),
        )
}

/// Every answer, a panic's included, tells browsers to believe its content type: a
/// JSON body is never run as a script or a style it was loaded as.
async fn nosniff<B>(mut response: Response<B>) -> Response<B> {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// One span per request carrying the request id (Lambda's, the caller's
/// `x-request-id`, or a fresh one), echoed back in `x-request-id`. In traces it is the
/// server span of the route, continuing the caller's trace (`traceparent`).
async fn request_span(
    State(service): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|context| context.request_id.clone())
        .or_else(|| {
            request
                .headers()
                .get(REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .filter(|value| value.len() <= 128)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // Named for traces by the route's template, never the raw path with its ids.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        service,
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
    );
    crate::telemetry::name_span(&span, || format!("{} {route}", request.method()));
    crate::telemetry::continue_trace(&span, request.headers());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if response.status().is_server_error() {
        span.record("otel.status_code", "error");
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "handled"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
