//! The saga workers' circuit breakers, read from the breaker board that every worker
//! reports to (see [`saga_contract::breakers`]): a DynamoDB table, because on AWS the
//! gateway cannot reach the workers themselves.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use saga_contract::breakers::{BreakerReport, BreakerState, PARTITION};
use service_kit::dynamo::{self, PK, StoreError, s};

use crate::models::Breaker;

#[derive(Clone)]
pub struct BreakerBoard {
    dynamo: Client,
    table: String,
}

impl BreakerBoard {
    pub fn new(dynamo: Client, table: impl Into<String>) -> Self {
        Self {
            dynamo,
            table: table.into(),
        }
    }

    /// One breaker per service, as the workers that are running report them.
    pub async fn current(&self) -> Result<Vec<Breaker>, StoreError> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        Ok(summarize(self.reports().await?, now_ms))
    }

    async fn reports(&self) -> Result<Vec<BreakerReport>, StoreError> {
        let mut reports = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(PARTITION))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                reports.push(dynamo::from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(reports);
            }
        }
    }
}

/// Merges the current reports (`now_ms` in Unix milliseconds) into one breaker per
/// service, in service order. Reports past their expiry come from workers that have
/// stopped and are left out. Each worker keeps its own breakers; a service shows the
/// least healthy of them (open, then half-open, then closed), with the openings of all.
/// A report whose state this gateway does not know (a newer worker's) is left out.
pub fn summarize(reports: Vec<BreakerReport>, now_ms: u64) -> Vec<Breaker> {
    let mut by_service: BTreeMap<String, Vec<BreakerReport>> = BTreeMap::new();
    for report in reports {
        if report.expires_at.saturating_mul(1000) > now_ms {
            by_service
                .entry(report.service.clone())
                .or_default()
                .push(report);
        }
    }
    by_service
        .into_iter()
        .filter_map(|(service, reports)| {
            let times_opened = reports.iter().map(|r| r.times_opened).sum();
            let (state, worst) = reports
                .into_iter()
                .filter_map(|r| Some((BreakerState::parse(&r.state)?, r)))
                .max_by_key(|(state, r)| (*state, r.probe_at_ms))?;
            Some(Breaker {
                service,
                retry_after_ms: worst.probe_at_ms.map(|at| at.saturating_sub(now_ms)),
                state,
                consecutive_failures: worst.consecutive_failures,
                times_opened,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_000_000_000;

    fn report(service: &str, worker: &str, state: &str, times_opened: u64) -> BreakerReport {
        BreakerReport {
            service: service.into(),
            worker: worker.into(),
            state: state.into(),
            consecutive_failures: if state == "closed" { 0 } else { 5 },
            times_opened,
            probe_at_ms: (state != "closed").then_some(NOW_MS + 3_000),
            version: 1,
            expires_at: NOW_MS / 1000 + 30,
        }
    }

    #[test]
    fn a_service_shows_its_least_healthy_breaker_and_every_opening() {
        let breakers = summarize(
            vec![
                report("payment", "w1", "closed", 0),
                report("inventory", "w1", "closed", 1),
                report("inventory", "w2", "open", 2),
            ],
            NOW_MS,
        );
        let view: Vec<_> = breakers
            .iter()
            .map(|b| (b.service.as_str(), b.state.as_str(), b.times_opened))
            .collect();
        assert_eq!(view, [("inventory", "open", 3), ("payment", "closed", 0)]);
        assert_eq!(breakers[0].retry_after_ms, Some(3_000));
        assert_eq!(breakers[0].consecutive_failures, 5);
        assert_eq!(breakers[1].retry_after_ms, None);
    }

    #[test]
    fn reports_of_stopped_workers_are_left_out() {
        let mut stale = report("inventory", "gone", "open", 4);
        stale.expires_at = NOW_MS / 1000;
        let breakers = summarize(
            vec![stale.clone(), report("inventory", "w1", "closed", 0)],
            NOW_MS,
        );
        assert_eq!(breakers.len(), 1);
        assert_eq!(
            (breakers[0].state.as_str(), breakers[0].times_opened),
            ("closed", 0)
        );
        assert!(summarize(vec![stale], NOW_MS).is_empty());
    }

    #[test]
    fn a_probe_that_is_due_waits_no_longer() {
        let mut due = report("order", "w1", "open", 1);
        due.probe_at_ms = Some(NOW_MS - 500);
        assert_eq!(summarize(vec![due], NOW_MS)[0].retry_after_ms, Some(0));
    }
}
