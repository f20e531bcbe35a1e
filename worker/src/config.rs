//! The worker's configuration, from the environment. The Temporal connection itself
//! (address, namespace, API key, TLS) comes from the SDK's standard variables and
//! `temporal.toml` profiles; see `connect` in `lib.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::config::{ConfigError, base_url, optional, table_name};

use crate::breaker::BreakerSettings;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `TASK_QUEUE` (default `order-saga`).
    pub task_queue: String,
    /// `CUSTOMER_URL`... base URLs of the services the activities call.
    pub services: ServiceUrls,
    /// `BREAKER_FAILURE_THRESHOLD` (default 5) and `BREAKER_COOL_DOWN_MS` (default 10 000).
    pub breaker: BreakerSettings,
    /// `DOWNSTREAM_TIMEOUT_MS` (default 8000): the longest one service call may take.
    pub downstream_timeout: Duration,
    /// `WORKER_STATUS_ADDR` (default 127.0.0.1:9090): where `/health` and `/breakers` are
    /// served; empty to serve nothing.
    pub status_addr: Option<SocketAddr>,
    /// `BREAKERS_TABLE` (else `TABLE_PREFIX` followed by `breakers`): the breaker board
    /// where the gateway reads the breakers' states; with neither set, they are only
    /// logged and served at `/breakers`.
    pub breakers_table: Option<String>,
    /// `WORKER_METRICS_ADDR` (e.g. 127.0.0.1:9464): where Prometheus scrapes `/metrics`
    /// (see `metrics.rs`); unset or empty to serve none.
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct ServiceUrls {
    pub inventory: String,
    pub order: String,
    pub payment: String,
    pub notification: String,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            task_queue: optional("TASK_QUEUE", saga_contract::DEFAULT_TASK_QUEUE.to_owned())?,
            services: ServiceUrls {
                inventory: base_url("INVENTORY_URL")?,
                order: base_url("ORDER_URL")?,
                payment: base_url("PAYMENT_URL")?,
                notification: base_url("NOTIFICATION_URL")?,
            },
            breaker: BreakerSettings {
                failure_threshold: optional("BREAKER_FAILURE_THRESHOLD", 5)?,
                cool_down: Duration::from_millis(optional("BREAKER_COOL_DOWN_MS", 10_000)?),
            },
            downstream_timeout: Duration::from_millis(optional("DOWNSTREAM_TIMEOUT_MS", 8_000)?),
            status_addr: status_addr(std::env::var("WORKER_STATUS_ADDR").ok())?,
            // Its only error is that neither variable is set: then there is no board.
            breakers_table: table_name("BREAKERS_TABLE", "breakers").ok(),
            metrics_addr: metrics_addr(std::env::var("WORKER_METRICS_ADDR").ok())?,
        })
    }
}

/// `WORKER_STATUS_ADDR`: unset is the default address, set but empty is none. Unlike the
/// other settings, empty is not "unset": the tests and the chaos check run several
/// workers at once, and each of them would claim the default port.
fn status_addr(value: Option<String>) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(value) = value else {
        return Ok(Some(DEFAULT_STATUS_ADDR));
    };
    match value.trim() {
        "" => Ok(None),
        addr => addr
            .parse()
            .map(Some)
            .map_err(|e| ConfigError::new(format!("WORKER_STATUS_ADDR={addr:?} is invalid: {e}"))),
    }
}

/// `WORKER_METRICS_ADDR`: none unless set.
fn metrics_addr(value: Option<String>) -> Result<Option<SocketAddr>, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(addr) => addr
            .parse()
            .map(Some)
            .map_err(|e| ConfigError::new(format!("WORKER_METRICS_ADDR={addr:?} is invalid: {e}"))),
    }
}

pub const DEFAULT_STATUS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9090);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_address_is_the_default_unless_set_and_none_when_set_empty() {
        assert_eq!(status_addr(None).expect("valid"), Some(DEFAULT_STATUS_ADDR));
        assert_eq!(status_addr(Some(String::new())).expect("valid"), None);
        assert_eq!(status_addr(Some("  ".into())).expect("valid"), None);
        assert_eq!(
            status_addr(Some(" 0.0.0.0:9191 ".into())).expect("valid"),
            Some("0.0.0.0:9191".parse().expect("an address"))
        );
        let error = status_addr(Some("localhost".into())).expect_err("not an address");
        assert!(error.to_string().contains("WORKER_STATUS_ADDR"), "{error}");
    }
}
