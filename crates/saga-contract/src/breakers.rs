//! The breaker board: every worker reports the state of its circuit breakers to a
//! DynamoDB table (`breakers` in `infra/tables.json`) and the gateway reads them from
//! there for the admin view. On AWS the worker (Fargate) and the gateway (Lambda) share
//! no network, so the table is where they meet; locally it works the same way.

use serde::{Deserialize, Serialize};

/// The one partition that holds every report, so that one query reads them all.
pub const PARTITION: &str = "BREAKERS";

/// The sort key of `worker`'s report on its breaker for `service`.
pub fn sort_key(service: &str, worker: &str) -> String {
    format!("{service}#{worker}")
}

/// A circuit breaker's state, ordered from healthy to unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    const ALL: [Self; 3] = [Self::Closed, Self::HalfOpen, Self::Open];

    /// The name a [`BreakerReport`] stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

/// One worker's report on one of its breakers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerReport {
    pub service: String,
    /// The reporting worker process (each worker keeps its own breakers).
    pub worker: String,
    /// A [`BreakerState`] by name. The record keeps the name, so that a reader meeting
    /// a state it does not know (a newer worker's) can leave that report out rather
    /// than fail to read the others.
    pub state: String,
    pub consecutive_failures: u32,
    /// How often the breaker has opened since the worker started.
    pub times_opened: u64,
    /// While not closed: when (Unix milliseconds) the next probe may go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_at_ms: Option<u64>,
    /// The worker's report counter: a write never replaces a newer report.
    pub version: u64,
    /// Unix seconds after which the report is stale because its worker stopped
    /// reporting; also the table's TTL attribute, so DynamoDB eventually deletes it.
    pub expires_at: u64,
}
