//! The worker's own small HTTP endpoint: `/health` for container health checks and
//! `/breakers`, the state of every circuit breaker, for the gateway's admin view.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use service_kit::extract::Json;
use tokio::net::TcpListener;

use crate::breaker::{BreakerSnapshot, CircuitBreaker};

pub fn router(breakers: Vec<Arc<CircuitBreaker>>) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/breakers",
            get(move || {
                let now = Instant::now();
                let snapshots: Vec<BreakerSnapshot> =
                    breakers.iter().map(|b| b.snapshot(now)).collect();
                async move { Json(snapshots) }
            }),
        )
}

/// Serves the status endpoint until the process ends.
pub async fn serve(addr: SocketAddr, breakers: Vec<Arc<CircuitBreaker>>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "status endpoint listening");
    axum::serve(listener, service_kit::serve::edge(router(breakers))).await
}
