//! A circuit breaker per downstream service, shared by every activity in this worker.
//!
//! Closed: calls go through; `failure_threshold` consecutive transient failures open it.
//! Open: calls fail fast for `cool_down`, and the activity asks Temporal to retry when
//! the cool-down ends, so a service that is down is not hammered by retries.
//! Half-open: after the cool-down one call goes through as a probe; its success closes
//! the breaker, its failure opens it again. Other calls meanwhile wait for the probe.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::metrics::SagaMetrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    pub cool_down: Duration,
}

pub use saga_contract::breakers::BreakerState;

/// Whether a call may go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Fail fast; try again after this long.
    Rejected {
        retry_after: Duration,
    },
}

/// What the breaker looks like from outside, for logs and the status endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerSnapshot {
    pub service: &'static str,
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// While open: milliseconds until the next probe may go through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// How often the breaker has opened since the worker started.
    pub times_opened: u64,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    /// When the breaker last opened (Open) or let its probe through (HalfOpen).
    since: Instant,
    times_opened: u64,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    service: &'static str,
    settings: BreakerSettings,
    inner: Mutex<Inner>,
    /// Where its transitions are counted, with the worker's task queue.
    metrics: Option<(SagaMetrics, String)>,
}

impl CircuitBreaker {
    pub fn new(service: &'static str, settings: BreakerSettings) -> Self {
        Self {
            service,
            settings,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                since: Instant::now(),
                times_opened: 0,
            }),
            metrics: None,
        }
    }

    /// The same breaker, its transitions counted in `metrics`.
    pub fn counted(mut self, metrics: SagaMetrics, task_queue: &str) -> Self {
        self.metrics = Some((metrics, task_queue.to_owned()));
        self
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another activity panicked mid-update; the counters
        // are still meaningful.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn admit(&self, now: Instant) -> Admission {
        let mut inner = self.lock();
        let elapsed = now.saturating_duration_since(inner.since);
        match inner.state {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::Open if elapsed >= self.settings.cool_down => {
                inner.state = BreakerState::HalfOpen;
                inner.since = now;
                self.report_transition(&inner, "half-open: letting one probe through");
                Admission::Allowed
            }
            BreakerState::Open => Admission::Rejected {
                retry_after: self.settings.cool_down - elapsed,
            },
            // A probe that never reported back (its worker died) must not wedge the
            // breaker: after another cool-down the next call probes instead.
            BreakerState::HalfOpen if elapsed >= self.settings.cool_down => {
                inner.since = now;
                Admission::Allowed
            }
            BreakerState::HalfOpen => Admission::Rejected {
                retry_after: self.settings.cool_down - elapsed,
            },
        }
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        let was = inner.state;
        inner.state = BreakerState::Closed;
        inner.consecutive_failures = 0;
        if was != BreakerState::Closed {
            self.report_transition(&inner, "closed: the service answers again");
        }
    }

    /// An operator's reset: closed, the failures forgotten, so the next call goes out.
    pub fn reset(&self) {
        let mut inner = self.lock();
        let was = inner.state;
        inner.state = BreakerState::Closed;
        inner.consecutive_failures = 0;
        if was != BreakerState::Closed {
            self.report_transition(&inner, "closed by an operator's retry");
        }
    }

    pub fn record_failure(&self, now: Instant) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let open = match inner.state {
            BreakerState::Closed => inner.consecutive_failures >= self.settings.failure_threshold,
            BreakerState::HalfOpen => true,
            BreakerState::Open => false,
        };
        if open {
            inner.state = BreakerState::Open;
            inner.since = now;
            inner.times_opened += 1;
            self.report_transition(&inner, "open: failing fast until the cool-down ends");
        }
    }

    pub fn snapshot(&self, now: Instant) -> BreakerSnapshot {
        let inner = self.lock();
        let retry_after = match inner.state {
            BreakerState::Closed => None,
            _ => Some(
                self.settings
                    .cool_down
                    .saturating_sub(now.saturating_duration_since(inner.since)),
            ),
        };
        BreakerSnapshot {
            service: self.service,
            state: inner.state,
            consecutive_failures: inner.consecutive_failures,
            retry_after_ms: retry_after.map(|d| d.as_millis() as u64),
            times_opened: inner.times_opened,
        }
    }

    fn report_transition(&self, inner: &Inner, what: &str) {
        if let Some((metrics, task_queue)) = &self.metrics {
            metrics.breaker_transition(task_queue, self.service, inner.state);
        }
        tracing::warn!(
            service = self.service,
            state = ?inner.state,
            consecutive_failures = inner.consecutive_failures,
            "circuit breaker {what}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(10);

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(
            "inventory",
            BreakerSettings {
                failure_threshold: 3,
                cool_down: COOL_DOWN,
            },
        )
    }

    #[test]
    fn it_opens_after_the_threshold_of_consecutive_failures() {
        let breaker = breaker();
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(breaker.admit(t0), Admission::Allowed);
            breaker.record_failure(t0);
        }
        assert_eq!(breaker.snapshot(t0).state, BreakerState::Closed);
        breaker.record_failure(t0);
        assert_eq!(breaker.snapshot(t0).state, BreakerState::Open);
        assert_eq!(
            breaker.admit(t0 + Duration::from_secs(4)),
            Admission::Rejected {
                retry_after: Duration::from_secs(6)
            }
        );
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let breaker = breaker();
        let t0 = Instant::now();
        breaker.record_failure(t0);
        breaker.record_failure(t0);
        breaker.record_success();
        breaker.record_failure(t0);
        breaker.record_failure(t0);
        assert_eq!(breaker.snapshot(t0).state, BreakerState::Closed);
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_through_and_its_success_closes() {
        let breaker = breaker();
        let t0 = Instant::now();
        (0..3).for_each(|_| breaker.record_failure(t0));
        let later = t0 + COOL_DOWN;
        assert_eq!(breaker.admit(later), Admission::Allowed);
        assert_eq!(breaker.snapshot(later).state, BreakerState::HalfOpen);
        assert!(matches!(breaker.admit(later), Admission::Rejected { .. }));
        breaker.record_success();
        let snapshot = breaker.snapshot(later);
        assert_eq!(snapshot.state, BreakerState::Closed);
        assert_eq!(snapshot.times_opened, 1);
        assert_eq!(breaker.admit(later), Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_opens_it_again_for_a_full_cool_down() {
        let breaker = breaker();
        let t0 = Instant::now();
        (0..3).for_each(|_| breaker.record_failure(t0));
        let probe_at = t0 + COOL_DOWN;
        assert_eq!(breaker.admit(probe_at), Admission::Allowed);
        breaker.record_failure(probe_at);
        assert_eq!(breaker.snapshot(probe_at).state, BreakerState::Open);
        assert_eq!(breaker.snapshot(probe_at).times_opened, 2);
        assert_eq!(
            breaker.admit(probe_at + Duration::from_secs(1)),
            Admission::Rejected {
                retry_after: Duration::from_secs(9)
            }
        );
    }

    #[test]
    fn a_probe_that_never_reports_does_not_wedge_the_breaker() {
        let breaker = breaker();
        let t0 = Instant::now();
        (0..3).for_each(|_| breaker.record_failure(t0));
        assert_eq!(breaker.admit(t0 + COOL_DOWN), Admission::Allowed);
        assert!(matches!(
            breaker.admit(t0 + COOL_DOWN + Duration::from_secs(1)),
            Admission::Rejected { .. }
        ));
        assert_eq!(breaker.admit(t0 + COOL_DOWN * 2), Admission::Allowed);
    }
}
