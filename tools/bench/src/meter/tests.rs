use axum::http::HeaderValue;

use super::*;

#[test]
fn routes_parse_and_bad_ones_are_refused() {
    let routes =
        parse_routes("dynamodb@18000=http://127.0.0.1:8000/ order@18001=http://127.0.0.1:3003")
            .expect("valid");
    assert_eq!(routes.len(), 2);
    assert!(routes[0].is_dynamodb());
    assert_eq!(routes[0].upstream, "http://127.0.0.1:8000");
    assert_eq!(routes[1].listen, SocketAddr::from(([127, 0, 0, 1], 18001)));
    assert!(!routes[1].is_dynamodb());
    for bad in [
        "order",
        "order@x=http://a",
        "@1=http://a",
        "order@1=https://a",
    ] {
        assert!(parse_routes(bad).is_err(), "{bad}");
    }
}

#[test]
fn metered_requests_ask_for_their_capacity_and_others_pass_unchanged() {
    let body = br#"{"TableName":"orders","Item":{}}"#;
    let asked: Value =
        serde_json::from_slice(&ask_for_capacity("PutItem", body).expect("metered")).expect("json");
    assert_eq!(asked["ReturnConsumedCapacity"], "INDEXES");
    assert_eq!(asked["TableName"], "orders");
    let indexes = br#"{"ReturnConsumedCapacity":"INDEXES"}"#;
    let kept: Value = serde_json::from_slice(&ask_for_capacity("Query", indexes).expect("metered"))
        .expect("json");
    assert_eq!(
        kept["ReturnConsumedCapacity"], "INDEXES",
        "the caller's choice stays"
    );
    assert_eq!(ask_for_capacity("DescribeTable", body), None);
    assert_eq!(ask_for_capacity("PutItem", b"not json"), None);
}

#[test]
fn capacity_is_read_by_table_with_what_its_indexes_took() {
    let single = consumed(
        br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":2.0,"Table":{"CapacityUnits":1.0},"GlobalSecondaryIndexes":{"g":{"CapacityUnits":1.0}}}}"#,
    );
    assert_eq!(
        single,
        [Consumed {
            table: "t".into(),
            units: 2.0,
            index_units: 1.0
        }]
    );
    let transaction = consumed(
        br#"{"ConsumedCapacity":[{"TableName":"a","CapacityUnits":4.0},{"TableName":"b","CapacityUnits":2.0}]}"#,
    );
    assert_eq!(transaction.iter().map(|c| c.units).sum::<f64>(), 6.0);
    assert_eq!(transaction[1].table, "b");
    assert!(consumed(b"{}").is_empty());
    assert!(consumed(b"garbage").is_empty());
}

#[test]
fn the_operation_comes_from_the_target_header() {
    let mut headers = HeaderMap::new();
    assert_eq!(operation(&headers), None);
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("DynamoDB_20120810.TransactWriteItems"),
    );
    assert_eq!(operation(&headers).as_deref(), Some("TransactWriteItems"));
}

#[test]
fn a_tally_since_an_earlier_one_holds_only_what_happened_between() {
    let mut earlier = Tally::default();
    let units = |table: &str, units: f64| {
        vec![Consumed {
            table: table.into(),
            units,
            index_units: 0.0,
        }]
    };
    let calls = |requests, millis| CallTally { requests, millis };
    earlier.record_dynamodb("PutItem", &units("orders", 1.0));
    earlier.record_dynamodb("GetItem", &units("orders", 0.5));
    earlier.calls.insert("order".into(), calls(3, 30.0));
    let mut later = earlier.clone();
    later.record_dynamodb("PutItem", &units("orders", 2.0));
    later.record_dynamodb("TransactWriteItems", &units("payments", 6.0));
    later.calls.insert("order".into(), calls(5, 40.0));
    later.calls.insert("payment".into(), calls(1, 20.0));

    let delta = later.since(&earlier);
    assert_eq!(delta.dynamodb_requests(), 2);
    assert_eq!(delta.transactions(), 1);
    assert_eq!(delta.write_units(), 8.0);
    assert_eq!(delta.read_units(), 0.0);
    assert!(
        !delta.dynamodb.contains_key("GetItem"),
        "unchanged operations drop out"
    );
    assert_eq!(delta.calls["order"].requests, 2);
    assert_eq!(delta.service_calls(), 3);
    assert_eq!(delta.mean_call_millis(), 10.0, "(10 + 20) ms over 3 calls");
}
