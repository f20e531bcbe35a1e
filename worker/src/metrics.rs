//! The worker's Prometheus metrics (`WORKER_METRICS_ADDR`): the SDK's own, with the
//! `temporal_` prefix (workflow and activity task latencies, pollers, slots...), and
//! the saga's, with the `saga_` prefix, served together by the SDK's exporter at
//! `/metrics`.
//!
//! The saga's are recorded by its activities, never by workflow code: an activity runs
//! once per attempt and never on replay, and the services answer a first write 201
//! and a repeat 200. So a saga's start (its order created), its end (its final
//! notification recorded) and a stuck compensation (its alert recorded) count once
//! however often the calls are retried or the saga replayed.
//!
//! | series | labels | what |
//! |---|---|---|
//! | `saga_started_total` | `task_queue` | sagas whose order was created |
//! | `saga_completed_total` | `task_queue` | sagas that completed the order |
//! | `saga_compensated_total` | `task_queue` | sagas that cancelled it, everything given back |
//! | `saga_stuck_total` | `task_queue` | compensations that kept failing and alerted the admins |
//! | `saga_activity_attempts_total` | `task_queue`, `activity`, `result` | attempts: `succeeded`, `failed` (retried), `refused` (a business refusal) |
//! | `saga_activity_duration` (histogram, ms) | `task_queue`, `activity` | each attempt's duration |
//! | `saga_breaker_transitions_total` | `task_queue`, `service`, `state` | a breaker opening, half-opening, closing |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use saga_contract::EventKind;
use service_kit::serve::BoxError;
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, HistogramDuration, MetricAttributes, MetricKeyValue, MetricParameters,
    NewAttributes, NoOpCoreMeter,
};
use temporalio_common::telemetry::{PrometheusExporterOptions, start_prometheus_metric_exporter};

use crate::breaker::BreakerState;

/// How an activity attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Succeeded,
    /// Failed in a way that may clear: retried by the step's policy.
    Failed,
    /// A business refusal: the step ends.
    Refused,
}

impl AttemptResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

/// The saga's instruments, on the meter the SDK's runtime reports to as well.
#[derive(Clone)]
pub struct SagaMetrics {
    meter: Arc<dyn CoreMeter>,
    started: Counter,
    completed: Counter,
    compensated: Counter,
    stuck: Counter,
    attempts: Counter,
    attempt_duration: HistogramDuration,
    breaker_transitions: Counter,
}

impl std::fmt::Debug for SagaMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaMetrics").finish_non_exhaustive()
    }
}

impl SagaMetrics {
    pub fn new(meter: Arc<dyn CoreMeter>) -> Self {
        let counter = |name: &'static str, description: &'static str| {
            meter.counter(
                MetricParameters::builder()
                    .name(name)
                    .description(description)
                    .build(),
            )
        };
        Self {
            started: counter("saga_started", "Sagas whose order was created"),
            completed: counter("saga_completed", "Sagas that completed their order"),
            compensated: counter(
                "saga_compensated",
                "Sagas that cancelled their order and gave everything back",
            ),
            stuck: counter(
                "saga_stuck",
                "Compensations that kept failing and alerted the admins",
            ),
            attempts: counter(
                "saga_activity_attempts",
                "Attempts of the saga's activities",
            ),
            attempt_duration: meter.histogram_duration(
                MetricParameters::builder()
                    .name("saga_activity_duration")
                    .description("How long each attempt of a saga's activity took")
                    .build(),
            ),
            breaker_transitions: counter(
                "saga_breaker_transitions",
                "Circuit breaker state changes, per downstream service",
            ),
            meter,
        }
    }

    /// Instruments that record nothing: the worker without `WORKER_METRICS_ADDR`.
    pub fn disabled() -> Self {
        Self::new(Arc::new(NoOpCoreMeter))
    }

    fn labels(&self, pairs: &[(&str, &str)]) -> MetricAttributes {
        self.meter.new_attributes(NewAttributes {
            attributes: pairs
                .iter()
                .map(|(key, value)| MetricKeyValue::new(*key, value.to_string()))
                .collect(),
        })
    }

    /// An order created (answered 201, not the 200 of a repeat).
    pub fn saga_started(&self, task_queue: &str) {
        self.started
            .add(1, &self.labels(&[("task_queue", task_queue)]));
    }

    /// A notification recorded for the first time: the end of a saga, or its alert.
    pub fn notification_recorded(&self, task_queue: &str, kind: EventKind) {
        let counter = match kind {
            EventKind::OrderCompleted => &self.completed,
            EventKind::OrderCancelled => &self.compensated,
            EventKind::CompensationStuck => &self.stuck,
            _ => return,
        };
        counter.add(1, &self.labels(&[("task_queue", task_queue)]));
    }

    /// One attempt of `activity`, which started at `started` (the SDK's time for it).
    pub fn attempt(
        &self,
        task_queue: &str,
        activity: &str,
        result: AttemptResult,
        started: Option<SystemTime>,
    ) {
        let labels = [("task_queue", task_queue), ("activity", activity)];
        if let Some(took) = started.and_then(|at| SystemTime::now().duration_since(at).ok()) {
            self.attempt_duration.record(took, &self.labels(&labels));
        }
        let with_result = [labels[0], labels[1], ("result", result.as_str())];
        self.attempts.add(1, &self.labels(&with_result));
    }

    pub fn breaker_transition(&self, task_queue: &str, service: &str, state: BreakerState) {
        self.breaker_transitions
            .add(1, &self.transition_labels(task_queue, service, state));
    }

    /// Every saga and breaker series of `task_queue` at 0 before anything happens, as
    /// Prometheus advises for counters: a rate, an alert (`increase(saga_stuck_total[5m])
    /// > 0`) or a chart on a series that does not exist yet shows nothing at all.
    pub fn start_at_zero(&self, task_queue: &str, services: &[&str]) {
        let queue = self.labels(&[("task_queue", task_queue)]);
        for counter in [
            &self.started,
            &self.completed,
            &self.compensated,
            &self.stuck,
        ] {
            counter.add(0, &queue);
        }
        for service in services {
            for state in [
                BreakerState::Open,
                BreakerState::HalfOpen,
                BreakerState::Closed,
            ] {
                self.breaker_transitions
                    .add(0, &self.transition_labels(task_queue, service, state));
            }
        }
    }

    fn transition_labels(
        &self,
        task_queue: &str,
        service: &str,
        state: BreakerState,
    ) -> MetricAttributes {
        let state = match state {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        };
        self.labels(&[
            ("task_queue", task_queue),
            ("service", service),
            ("state", state),
        ])
    }
}

/// The SDK's Prometheus exporter, listening on `addr`: the meter for the runtime and
/// the saga's metrics, and the address it is bound to (`addr` may ask for port 0).
pub fn serve(addr: SocketAddr) -> Result<(Arc<dyn CoreMeter>, SocketAddr), BoxError> {
    let options = PrometheusExporterOptions::builder()
        .socket_addr(addr)
        .counters_total_suffix(true)
        // Durations in milliseconds, as the histograms' buckets are.
        .use_seconds_for_durations(false)
        .build();
    let started = start_prometheus_metric_exporter(options).map_err(BoxError::from)?;
    Ok((started.meter, started.bound_addr))
}
