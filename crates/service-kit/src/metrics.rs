//! Metrics through the `metrics` facade, and where they go: locally a Prometheus
//! recorder that the service renders itself at `GET /metrics` (on its own port, no
//! listener of the exporter's); under Lambda CloudWatch's embedded metric format (EMF),
//! one JSON line on standard output per invocation, which CloudWatch Logs turns into
//! metrics with no agent and no API call.
//!
//! Every HTTP function records, per request ([`track_requests`], in
//! [`crate::serve::edge`]):
//! - [`REQUESTS`], a counter, and [`DURATION`], a histogram in seconds,
//! - labelled `service`, `route` (the route's path template, `/orders/{id}`, never
//!   the requested path: ids must not become series; [`UNMATCHED`] for no route),
//!   `method` (the standard ones, anything else `OTHER`) and `status` (the code).

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics_cloudwatch_embedded::Collector;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

/// The CloudWatch namespace of every metric of this system, unless `METRICS_NAMESPACE`
/// names another.
pub const NAMESPACE: &str = "OrderSaga";

/// Requests answered, a counter.
pub const REQUESTS: &str = "http_requests_total";
/// Time from the request reaching the service to its response's head, in seconds.
pub const DURATION: &str = "http_request_duration_seconds";
/// The `route` of requests that matched no route (404s of the fallback).
pub const UNMATCHED: &str = "unmatched";

/// Prometheus histogram buckets of [`DURATION`], in seconds: from a DynamoDB read to
/// a saga start waiting on its first step.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The CloudWatch namespace: `METRICS_NAMESPACE`, or [`NAMESPACE`].
pub fn namespace() -> String {
    std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| NAMESPACE.to_owned())
}

/// Records each request under the `service` label: the outermost layer of
/// [`crate::serve::edge`], so it sees every answer, panics' and the fallback's included.
pub async fn track_requests(
    State(service): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    record_request(service, route, method, response.status(), started.elapsed());
    response
}

/// The method as a label: only the standard methods, so that no client can mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// One request, through the facade to whichever recorder is installed (none: nothing).
pub fn record_request(
    service: &'static str,
    route: String,
    method: &'static str,
    status: StatusCode,
    elapsed: Duration,
) {
    let labels = [
        ("service", service.to_owned()),
        ("route", route),
        ("method", method.to_owned()),
        ("status", status.as_u16().to_string()),
    ];
    ::metrics::counter!(REQUESTS, &labels).increment(1);
    ::metrics::histogram!(DURATION, &labels).record(elapsed.as_secs_f64());
}

/// Units and help texts, for the recorder just installed.
fn describe() {
    ::metrics::describe_counter!(REQUESTS, ::metrics::Unit::Count, "HTTP requests answered");
    ::metrics::describe_histogram!(
        DURATION,
        ::metrics::Unit::Seconds,
        "Time to answer an HTTP request (to the response head)"
    );
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static EMF: OnceLock<Option<&'static Collector>> = OnceLock::new();

/// The Prometheus recorder, installed as the process's recorder at the first call;
/// `None` when another recorder was installed first.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), DURATION_BUCKETS)
                .inspect_err(|error| tracing::warn!(%error, "no Prometheus metrics"))
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            if let Err(error) = ::metrics::set_global_recorder(recorder) {
                tracing::warn!(%error, "no Prometheus metrics: another recorder is installed");
                return None;
            }
            describe();
            // Histogram samples wait in buckets until a scrape or an upkeep folds them
            // in: without a scrape they would pile up. A thread rather than a task, so
            // that it outlives any one runtime (tests run many).
            let upkeep = handle.clone();
            let started = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = started {
                tracing::warn!(%error, "no upkeep of the Prometheus metrics");
            }
            Some(handle)
        })
        .as_ref()
}

/// Installs the EMF recorder (under Lambda), in [`namespace`]; `None` when another
/// recorder was installed first.
pub fn install_emf() -> Option<&'static Collector> {
    install_emf_in(namespace())
}

fn install_emf_in(namespace: String) -> Option<&'static Collector> {
    *EMF.get_or_init(|| {
        match metrics_cloudwatch_embedded::Builder::new()
            .cloudwatch_namespace(namespace)
            .init()
        {
            Ok(collector) => {
                describe();
                Some(collector)
            }
            Err(error) => {
                tracing::warn!(%error, "no CloudWatch metrics: another recorder is installed");
                None
            }
        }
    })
}

/// Writes what was recorded since the last flush as EMF lines on standard output (one
/// per label set: one per request, unless invocations run concurrently). Called at
/// the end of every invocation: Lambda may freeze the process right after.
pub fn flush_emf() {
    let Some(Some(collector)) = EMF.get() else {
        return;
    };
    let lines = emf_lines(collector);
    if !lines.is_empty() {
        // One write, so that no concurrent log line lands inside a record.
        let _ = std::io::stdout().lock().write_all(&lines);
    }
}

fn emf_lines(collector: &Collector) -> Vec<u8> {
    let mut lines = Vec::new();
    if let Err(error) = collector.flush(&mut lines) {
        tracing::warn!(%error, "could not write the CloudWatch metrics");
        return Vec::new();
    }
    lines
}

/// Adds `value` to the counter `name`.
pub fn count(name: &str, value: u64) {
    if crate::serve::running_in_lambda() {
        println!(
            "{}",
            emf_line(&namespace(), name, value, crate::clock::now_millis())
        );
    } else {
        tracing::info!(metric = name, value, "metric");
    }
}

/// One EMF record: the metric's definition under `_aws`, its value at the top level.
fn emf_line(namespace: &str, name: &str, value: u64, timestamp_ms: u64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        name: value,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_defines_the_metric_and_carries_its_value() {
        let line: serde_json::Value = serde_json::from_str(&emf_line(
            NAMESPACE,
            "RateLimitStoreFallback",
            3,
            1_700_000_000_000,
        ))
        .expect("JSON");
        assert_eq!(line["RateLimitStoreFallback"], 3);
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], NAMESPACE);
        assert_eq!(metric["Metrics"][0]["Name"], "RateLimitStoreFallback");
        assert_eq!(metric["Metrics"][0]["Unit"], "Count");
    }

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let invented = Method::from_bytes(b"BREW").expect("a method token");
        assert_eq!(method_label(&invented), "OTHER");
    }

    /// The EMF recorder is this test binary's global recorder from here on (the
    /// Prometheus one is tested in `tests/request_metrics.rs`, a process of its own).
    #[test]
    fn a_request_is_one_emf_record_with_its_dimensions_metrics_and_units() {
        let collector = install_emf_in("OrderSagaTest".to_owned()).expect("the EMF recorder");
        let before = crate::clock::now_millis();
        record_request(
            "emf-test",
            "/orders/{id}".to_owned(),
            "GET",
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(250),
        );
        let lines = String::from_utf8(emf_lines(collector)).expect("UTF-8");
        let records: Vec<serde_json::Value> = lines
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .filter(|record: &serde_json::Value| record["service"] == "emf-test")
            .collect();
        assert_eq!(records.len(), 1, "one record for the request: {lines}");
        let record = &records[0];

        let timestamp = record["_aws"]["Timestamp"].as_u64().expect("a timestamp");
        assert!(timestamp >= before, "{record:#}");
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "OrderSagaTest");
        let mut dimensions: Vec<&str> = directive["Dimensions"][0]
            .as_array()
            .expect("one dimension set")
            .iter()
            .map(|name| name.as_str().expect("a dimension name"))
            .collect();
        dimensions.sort_unstable();
        assert_eq!(dimensions, ["method", "route", "service", "status"]);
        // Each dimension's value is a top-level member, as EMF requires.
        assert_eq!(record["route"], "/orders/{id}");
        assert_eq!(record["method"], "GET");
        assert_eq!(record["status"], "503");

        let mut metrics: Vec<(String, String)> = directive["Metrics"]
            .as_array()
            .expect("metric definitions")
            .iter()
            .map(|metric| {
                (
                    metric["Name"].as_str().expect("a name").to_owned(),
                    metric["Unit"].as_str().expect("a unit").to_owned(),
                )
            })
            .collect();
        metrics.sort();
        assert_eq!(
            metrics,
            [
                (DURATION.to_owned(), "Seconds".to_owned()),
                (REQUESTS.to_owned(), "Count".to_owned()),
            ]
        );
        assert_eq!(record[REQUESTS], 1);
        assert_eq!(record[DURATION], serde_json::json!([0.25]));

        // Flushed: the next invocation's record starts from nothing.
        assert!(
            !String::from_utf8(emf_lines(collector))
                .expect("UTF-8")
                .contains("emf-test")
        );
    }
}
