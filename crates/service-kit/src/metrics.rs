//! Counters as CloudWatch metrics, with no agent and no API call: under Lambda a
//! counter is one line of CloudWatch's embedded metric format (EMF) on standard output,
//! which CloudWatch Logs turns into a metric in the `OrderSaga` namespace. Elsewhere it
//! is a log line with the metric's name and value.

use serde_json::json;

/// The CloudWatch namespace of every metric of this system.
pub const NAMESPACE: &str = "OrderSaga";

/// Adds `value` to the counter `name`.
pub fn count(name: &str, value: u64) {
    if crate::serve::running_in_lambda() {
        println!("{}", emf_line(name, value, crate::clock::now_millis()));
    } else {
        tracing::info!(metric = name, value, "metric");
    }
}

/// One EMF record: the metric's definition under `_aws`, its value at the top level.
fn emf_line(name: &str, value: u64, timestamp_ms: u64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
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
        let line: serde_json::Value =
            serde_json::from_str(&emf_line("RateLimitStoreFallback", 3, 1_700_000_000_000))
                .expect("JSON");
        assert_eq!(line["RateLimitStoreFallback"], 3);
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], NAMESPACE);
        assert_eq!(metric["Metrics"][0]["Name"], "RateLimitStoreFallback");
        assert_eq!(metric["Metrics"][0]["Unit"], "Count");
    }
}
