//! Reports this worker's circuit breakers to the breaker board (see
//! [`saga_contract::breakers`]), the DynamoDB table the gateway reads for the admin
//! view: at once when a breaker changes, and as a heartbeat while nothing does, so that
//! the reports of a worker that has stopped go stale instead of lingering.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use saga_contract::breakers::{BreakerReport, PARTITION, sort_key};
use service_kit::dynamo::{self, StoreError, n};

use crate::breaker::{BreakerSnapshot, BreakerState, CircuitBreaker};

/// How often the breakers are looked at for a change; the admin view refreshes every
/// second, so a change shows within about two.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often the reports are rewritten when nothing changes.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a report stays current without a heartbeat: several missed heartbeats.
const STALE_AFTER: Duration = Duration::from_secs(45);

pub struct BreakerReporter {
    dynamo: Client,
    table: String,
    /// Names this worker process among the reporters.
    worker: String,
}

impl BreakerReporter {
    pub fn new(dynamo: Client, table: impl Into<String>, worker: impl Into<String>) -> Self {
        Self {
            dynamo,
            table: table.into(),
            worker: worker.into(),
        }
    }

    /// Writes the current state of `breakers`, as report number `version` of this
    /// worker. A report only replaces an older one, so writes that arrive out of order
    /// (a retried request, a slow one) never bring back a state that has passed.
    pub async fn publish(
        &self,
        breakers: &[Arc<CircuitBreaker>],
        version: u64,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let now_ms = unix_ms(SystemTime::now());
        let writes = breakers.iter().map(|breaker| {
            let report = report(&breaker.snapshot(now), &self.worker, version, now_ms);
            self.put(report)
        });
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    async fn put(&self, report: BreakerReport) -> Result<(), StoreError> {
        let item = dynamo::to_item(
            &report,
            PARTITION,
            sort_key(&report.service, &report.worker),
        )?;
        let written = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(version) OR version < :version")
            .expression_attribute_values(":version", n(report.version))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            // A newer report is already there.
            Err(error) if dynamo::failed_condition(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Reports until the process ends. A failed write is logged and retried with the
    /// next check; reporting never affects the saga.
    pub async fn run(self, breakers: Vec<Arc<CircuitBreaker>>) {
        let mut version = 0;
        let mut reported: Option<Vec<Fingerprint>> = None;
        let mut last_write = Instant::now();
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        loop {
            ticks.tick().await;
            let now = Instant::now();
            let current: Vec<Fingerprint> = breakers
                .iter()
                .map(|b| Fingerprint::of(&b.snapshot(now)))
                .collect();
            if reported.as_ref() == Some(&current) && last_write.elapsed() < HEARTBEAT {
                continue;
            }
            version += 1;
            match self.publish(&breakers, version).await {
                Ok(()) => {
                    reported = Some(current);
                    last_write = Instant::now();
                }
                Err(error) => {
                    tracing::warn!(%error, table = %self.table, "cannot report the breakers");
                }
            }
        }
    }
}

/// Starts reporting `breakers` to `table` in the background, as worker `id`.
pub async fn start(table: &str, id: impl Into<String>, breakers: Vec<Arc<CircuitBreaker>>) {
    let dynamo = service_kit::dynamo::client_from_env().await;
    let board = BreakerReporter::new(dynamo, table, id);
    tracing::info!(%table, worker = %board.worker, "reporting the breakers");
    tokio::spawn(board.run(breakers));
}

/// What makes a report worth writing before the next heartbeat.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    state: BreakerState,
    consecutive_failures: u32,
    times_opened: u64,
}

impl Fingerprint {
    fn of(snapshot: &BreakerSnapshot) -> Self {
        Self {
            state: snapshot.state,
            consecutive_failures: snapshot.consecutive_failures,
            times_opened: snapshot.times_opened,
        }
    }
}

/// The report on `snapshot`, taken at `now_ms` (Unix milliseconds).
pub fn report(
    snapshot: &BreakerSnapshot,
    worker: &str,
    version: u64,
    now_ms: u64,
) -> BreakerReport {
    BreakerReport {
        service: snapshot.service.to_owned(),
        worker: worker.to_owned(),
        state: snapshot.state.as_str().to_owned(),
        consecutive_failures: snapshot.consecutive_failures,
        times_opened: snapshot.times_opened,
        probe_at_ms: snapshot.retry_after_ms.map(|ms| now_ms + ms),
        version,
        expires_at: (now_ms + STALE_AFTER.as_millis() as u64).div_ceil(1000),
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(state: BreakerState, retry_after_ms: Option<u64>) -> BreakerSnapshot {
        BreakerSnapshot {
            service: "inventory",
            state,
            consecutive_failures: 5,
            retry_after_ms,
            times_opened: 2,
        }
    }

    #[test]
    fn an_open_breaker_reports_when_its_probe_is_due_and_when_the_report_goes_stale() {
        let report = report(
            &snapshot(BreakerState::Open, Some(4_000)),
            "w1",
            7,
            1_000_000,
        );
        assert_eq!(report.service, "inventory");
        assert_eq!(report.worker, "w1");
        assert_eq!(report.state, "open");
        assert_eq!(report.probe_at_ms, Some(1_004_000));
        assert_eq!(report.version, 7);
        assert_eq!(report.expires_at, 1_045);
        assert_eq!((report.consecutive_failures, report.times_opened), (5, 2));
    }

    #[test]
    fn a_closed_breaker_has_no_probe_time_and_states_are_named_as_the_gateway_reads_them() {
        let closed = report(&snapshot(BreakerState::Closed, None), "w1", 1, 0);
        assert_eq!(
            (closed.state.as_str(), closed.probe_at_ms),
            ("closed", None)
        );
        let half_open = report(&snapshot(BreakerState::HalfOpen, Some(0)), "w1", 1, 0);
        assert_eq!(half_open.state, "half_open");
    }

    #[test]
    fn only_a_change_of_state_or_counters_is_worth_an_early_report() {
        let open = Fingerprint::of(&snapshot(BreakerState::Open, Some(4_000)));
        assert_eq!(
            open,
            Fingerprint::of(&snapshot(BreakerState::Open, Some(3_000)))
        );
        assert_ne!(open, Fingerprint::of(&snapshot(BreakerState::Closed, None)));
    }
}
