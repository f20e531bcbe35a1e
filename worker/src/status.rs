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

/// Binds the status endpoint's address, at start-up: a worker that cannot serve it must
/// not start, or the container's health check would probe whatever else listens there.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| format!("the status endpoint cannot listen on {addr}: {error}"))
}

/// Serves the status endpoint until the process ends.
pub async fn serve(
    listener: TcpListener,
    breakers: Vec<Arc<CircuitBreaker>>,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "status endpoint listening");
    axum::serve(
        listener,
        service_kit::serve::edge("worker", router(breakers)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::breaker::BreakerSettings;

    #[tokio::test]
    async fn breakers_are_served_with_their_state() {
        let settings = BreakerSettings {
            failure_threshold: 1,
            cool_down: Duration::from_secs(60),
        };
        let inventory = Arc::new(CircuitBreaker::new("inventory", settings));
        let payment = Arc::new(CircuitBreaker::new("payment", settings));
        inventory.record_failure(Instant::now());
        let api = service_kit::testing::spawn(router(vec![inventory, payment])).await;

        let breakers = api.get("/breakers").await.expect(200);
        assert_eq!(breakers[0]["service"], "inventory");
        assert_eq!(breakers[0]["state"], "open");
        assert_eq!(breakers[0]["times_opened"], 1);
        assert!(
            breakers[0]["retry_after_ms"]
                .as_u64()
                .is_some_and(|ms| ms > 0)
        );
        assert_eq!(breakers[1]["service"], "payment");
        assert_eq!(breakers[1]["state"], "closed");
        assert_eq!(api.get("/health").await.expect(200)["status"], "ok");
    }
}
