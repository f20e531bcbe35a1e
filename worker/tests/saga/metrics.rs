//! The worker's Prometheus endpoint: the SDK's own series and the saga's, which move
//! when a saga completes, when one compensates, and when a breaker opens and closes.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use saga_contract::Outcome;

use crate::support::{InProcessWorker, Stack, eventually, saga, unique};

/// An address no one listens on now.
fn free_address() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Every sample of the exposition at `addr` whose labels include `task_queue`, keyed
/// by its series and its other labels (`name{a="x",b="y"}`, labels sorted).
async fn scrape(addr: SocketAddr, task_queue: &str) -> BTreeMap<String, f64> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("the metrics endpoint answers")
        .text()
        .await
        .expect("a text exposition");
    let mine = format!("task_queue=\"{task_queue}\"");
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, labels)) = series.split_once('{') else {
            continue;
        };
        let mut labels: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter(|label| !label.is_empty())
            .collect();
        if !labels.contains(&mine.as_str()) {
            continue;
        }
        labels.retain(|label| *label != mine && !label.starts_with("service_name="));
        labels.sort_unstable();
        let key = format!("{name}{{{}}}", labels.join(","));
        samples.insert(key, value.parse().expect("a number"));
    }
    samples
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn the_worker_serves_the_sdks_metrics_and_the_sagas() {
    let stack = Stack::start().await;
    let addr = free_address();
    let worker = InProcessWorker::start(worker::config::WorkerConfig {
        metrics_addr: Some(addr),
        ..stack.worker_config()
    });
    let queue = &stack.task_queue;
    let before = scrape(addr, queue).await;
    // Every saga series exists from the start, at 0, so that rates and alerts work.
    for series in [
        "saga_started_total{}",
        "saga_completed_total{}",
        "saga_compensated_total{}",
        "saga_stuck_total{}",
        "saga_breaker_transitions_total{service=\"payment\",state=\"open\"}",
    ] {
        assert_eq!(before.get(series), Some(&0.0), "{series}: {before:#?}");
    }
    stack.add_product("MUG", 10, 1250).await;

    let completed = saga(&unique("metrics-ok"), &[("MUG", 1, 1250)], "card_approve");
    let declined = saga(
        &unique("metrics-declined"),
        &[("MUG", 1, 1250)],
        "card_decline",
    );
    for input in [&completed, &declined] {
        stack.start_saga(input).await;
    }
    assert_eq!(
        stack.result(&completed.order_id).await.outcome,
        Outcome::Completed
    );
    assert_eq!(
        stack.result(&declined.order_id).await.outcome,
        Outcome::Cancelled
    );

    // A service down long enough to open its breaker, then back.
    stack.inventory.set_failure_mode("down").await;
    let outage = saga(
        &unique("metrics-outage"),
        &[("MUG", 1, 1250)],
        "card_approve",
    );
    stack.start_saga(&outage).await;
    eventually(Duration::from_secs(60), "the breaker to open", || async {
        (worker.breaker("inventory").times_opened >= 1).then_some(())
    })
    .await;
    stack.inventory.set_failure_mode("off").await;
    assert_eq!(
        stack.result(&outage.order_id).await.outcome,
        Outcome::Completed
    );

    let after = eventually(Duration::from_secs(10), "the last counts", || async {
        let samples = scrape(addr, queue).await;
        (value(&samples, "saga_completed_total{}") == 2.0).then_some(samples)
    })
    .await;
    assert_eq!(value(&after, "saga_started_total{}"), 3.0, "{after:#?}");
    assert_eq!(value(&after, "saga_compensated_total{}"), 1.0, "{after:#?}");
    assert_eq!(value(&after, "saga_stuck_total{}"), 0.0, "{after:#?}");
    assert_eq!(
        value(
            &after,
            "saga_activity_attempts_total{activity=\"charge_payment\",result=\"refused\"}"
        ),
        1.0,
        "{after:#?}"
    );
    assert!(
        value(
            &after,
            "saga_activity_attempts_total{activity=\"reserve_inventory\",result=\"failed\"}"
        ) >= 1.0,
        "{after:#?}"
    );
    assert!(
        value(
            &after,
            "saga_activity_duration_count{activity=\"create_order\"}"
        ) >= 3.0,
        "{after:#?}"
    );
    for state in ["open", "closed"] {
        let key =
            format!("saga_breaker_transitions_total{{service=\"inventory\",state=\"{state}\"}}");
        assert!(value(&after, &key) >= 1.0, "{key}: {after:#?}");
    }
    // The SDK's own, on the same endpoint.
    assert!(
        after
            .keys()
            .any(|key| key.starts_with("temporal_workflow_task")),
        "{after:#?}"
    );
}
