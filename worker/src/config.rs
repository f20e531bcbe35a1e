//! The worker's configuration, from the environment. The Temporal connection itself
//! (address, namespace, API key, TLS) comes from the SDK's standard variables and
//! `temporal.toml` profiles; see `connect` in `lib.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::config::{ConfigError, optional, table_name};
use service_kit::services::{self, ServiceUrls};
use temporalio_common::worker::{
    VersioningBehavior, WorkerDeploymentOptions, WorkerDeploymentVersion, build_id_from_current_exe,
};

use crate::breaker::BreakerSettings;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `TASK_QUEUE` (default `order-saga`).
    pub task_queue: String,
    /// `INVENTORY_URL`...: the base URL of each service `infra/services.json` declares
    /// as called by the worker.
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
    /// `WORKER_DEPLOYMENT_NAME` and `BUILD_ID`: Worker Versioning (see [`Deployment`]);
    /// `None`, versioning off, when `WORKER_DEPLOYMENT_NAME` is unset or empty.
    pub deployment: Option<Deployment>,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            task_queue: optional("TASK_QUEUE", saga_contract::DEFAULT_TASK_QUEUE.to_owned())?,
            services: services::urls_from_env("worker")?,
            breaker: BreakerSettings {
                failure_threshold: optional("BREAKER_FAILURE_THRESHOLD", 5)?,
                cool_down: Duration::from_millis(optional("BREAKER_COOL_DOWN_MS", 10_000)?),
            },
            downstream_timeout: Duration::from_millis(optional("DOWNSTREAM_TIMEOUT_MS", 8_000)?),
            status_addr: status_addr(std::env::var("WORKER_STATUS_ADDR").ok())?,
            // Its only error is that neither variable is set: then there is no board.
            breakers_table: table_name("BREAKERS_TABLE", "breakers").ok(),
            metrics_addr: metrics_addr(std::env::var("WORKER_METRICS_ADDR").ok())?,
            deployment: Deployment::from_values(
                std::env::var("WORKER_DEPLOYMENT_NAME").ok(),
                std::env::var("BUILD_ID").ok(),
            ),
        })
    }
}

/// The Worker Deployment Version this worker declares: with it, Temporal sends the
/// worker only the tasks of its own version, and a saga is pinned to the version that
/// started it, so it finishes on the code it started on whatever is deployed meanwhile
/// (see "Rolling out a new worker" in docs/deploy.md).
///
/// Off unless `WORKER_DEPLOYMENT_NAME` is set: a versioned worker gets no new sagas until
/// an operator (or the deploy pipeline) makes its version the deployment's current one,
/// so turning it on by default would leave `infra/run.sh`, compose and the tests with an
/// idle worker. Unversioned, the worker behaves as before versioning existed: any worker
/// on the task queue takes any task, and `ctx.patched` keeps old sagas replaying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// `WORKER_DEPLOYMENT_NAME`: one name for every build of this worker, e.g. `order-saga`.
    pub name: String,
    /// `BUILD_ID`, else a hash of this executable's bytes: the same binary gets the same
    /// id on every machine, a rebuilt one a new id. The project bakes no git revision
    /// in; a pipeline sets `BUILD_ID` to its image tag or revision for readable ids.
    pub build_id: String,
}

impl Deployment {
    /// From `WORKER_DEPLOYMENT_NAME` and `BUILD_ID` (unset and blank alike); a
    /// `BUILD_ID` without a deployment name is ignored.
    pub fn from_values(name: Option<String>, build_id: Option<String>) -> Option<Self> {
        let set =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Some(Self {
            name: set(name)?,
            build_id: set(build_id).unwrap_or_else(|| build_id_from_current_exe().to_owned()),
        })
    }

    /// The SDK's options: versioned, and every saga pinned. The 1.1 SDK takes the
    /// behaviour per worker, not per workflow type. Pinned suits a saga: it lasts
    /// minutes, or until its review times out, so an old version drains soon after a
    /// rollout, and no running saga is replayed on code it did not start on.
    pub fn options(&self) -> WorkerDeploymentOptions {
        WorkerDeploymentOptions::new(
            WorkerDeploymentVersion::builder()
                .deployment_name(self.name.clone())
                .build_id(self.build_id.clone())
                .build(),
        )
        .use_worker_versioning(true)
        .default_versioning_behavior(VersioningBehavior::Pinned)
        .build()
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

    #[test]
    fn versioning_is_off_without_a_deployment_name_and_the_build_id_defaults_to_the_binary() {
        assert_eq!(Deployment::from_values(None, Some("b-1".into())), None);
        assert_eq!(Deployment::from_values(Some(" ".into()), None), None);
        let named = |build_id: Option<&str>| {
            Deployment::from_values(Some(" order-saga ".into()), build_id.map(str::to_owned))
                .expect("versioned")
        };
        assert_eq!(
            named(Some(" 2026-12-01.1 ")),
            Deployment {
                name: "order-saga".into(),
                build_id: "2026-12-01.1".into()
            }
        );
        assert_eq!(named(None).build_id, build_id_from_current_exe());
        assert_eq!(named(Some("")).build_id, build_id_from_current_exe());

        let options = named(Some("b-1")).options();
        assert!(options.use_worker_versioning);
        assert_eq!(
            options.default_versioning_behavior,
            Some(VersioningBehavior::Pinned)
        );
        assert_eq!(options.version.deployment_name, "order-saga");
        assert_eq!(options.version.build_id, "b-1");
    }
}
