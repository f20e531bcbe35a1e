//! Request metrics as a service serves them locally: a router behind the production
//! edge, its `/metrics` rendered by the Prometheus recorder (this test binary's
//! process-wide recorder). Ids in paths never become series: requests are counted by
//! their route's template.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use service_kit::testing;

/// One sample of the Prometheus text format: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a Prometheus text exposition (comments skipped).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
                None => (series, ""),
            };
            Sample {
                name: name.to_owned(),
                labels: labels_of(labels),
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// `a="x",b="y"` (values may hold braces and commas, quotes escaped) as a map.
fn labels_of(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while let Some((key, rest)) = text.split_once("=\"") {
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => value.push(chars.next().expect("an escaped character").1),
                (at, '"') => break at,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        text = &rest[end + 1..];
    }
    labels
}

fn with<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
        })
        .collect()
}

fn shop() -> Router {
    Router::new()
        .route(
            "/items/{id}",
            get(|Path(id): Path<String>| async move { format!("item {id}") }),
        )
        .route("/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
}

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_template_method_and_status() {
    let api = testing::spawn_as("shop", shop()).await;
    let text_of = |path: &'static str| {
        let api = api.clone();
        async move {
            let response = api
                .http
                .get(format!("{}{path}", api.base_url))
                .send()
                .await
                .expect("the service answers");
            (
                response.status().as_u16(),
                response.text().await.expect("a body"),
            )
        }
    };
    assert_eq!(text_of("/items/first-id").await.0, 200);
    assert_eq!(text_of("/items/second-id").await.0, 200);
    assert_eq!(text_of("/nowhere/third-id").await.0, 404);
    assert_eq!(text_of("/broken").await.0, 503);

    let (status, text) = text_of("/metrics").await;
    assert_eq!(status, 200);
    let samples = samples(&text);
    let routes: Vec<&str> = with(&samples, "http_requests_total", &[("service", "shop")])
        .iter()
        .map(|sample| sample.labels["route"].as_str())
        .collect();
    assert!(
        routes
            .iter()
            .all(|route| ["/items/{id}", "/broken", "unmatched", "/metrics"].contains(route)),
        "{routes:?}"
    );

    // One series for the template, with both requests; none per id.
    let items = with(
        &samples,
        "http_requests_total",
        &[
            ("service", "shop"),
            ("route", "/items/{id}"),
            ("method", "GET"),
            ("status", "200"),
        ],
    );
    assert_eq!(items.len(), 1, "{text}");
    assert_eq!(items[0].value, 2.0);
    assert!(
        !text.contains("first-id") && !text.contains("third-id"),
        "{text}"
    );

    // The unknown route under one fixed label, and errors by their status.
    let unmatched = with(
        &samples,
        "http_requests_total",
        &[
            ("service", "shop"),
            ("route", "unmatched"),
            ("status", "404"),
        ],
    );
    assert_eq!(unmatched.len(), 1, "{text}");
    assert_eq!(unmatched[0].value, 1.0);
    let broken = with(
        &samples,
        "http_requests_total",
        &[("service", "shop"), ("route", "/broken"), ("status", "503")],
    );
    assert_eq!(broken.len(), 1, "{text}");
    assert_eq!(broken[0].value, 1.0);

    // Durations as a histogram: buckets, a sum and a count per series.
    let items_timed = [
        ("service", "shop"),
        ("route", "/items/{id}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    let count = with(
        &samples,
        "http_request_duration_seconds_count",
        &items_timed,
    );
    assert_eq!(count.len(), 1, "{text}");
    assert_eq!(count[0].value, 2.0);
    let sum = with(&samples, "http_request_duration_seconds_sum", &items_timed);
    assert!(sum[0].value > 0.0 && sum[0].value < 10.0, "{text}");
    let everything = with(
        &samples,
        "http_request_duration_seconds_bucket",
        &[items_timed.as_slice(), &[("le", "+Inf")]].concat(),
    );
    assert_eq!(everything[0].value, 2.0, "{text}");
    assert!(
        with(
            &samples,
            "http_request_duration_seconds_bucket",
            &items_timed
        )
        .len()
            > 2,
        "{text}"
    );
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
}
