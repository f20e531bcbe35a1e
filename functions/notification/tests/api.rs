//! The notification service over HTTP against DynamoDB Local, one fresh table per test.

use serde_json::{Value, json};
use service_kit::testing::{self, Api, Method};

async fn notification_service() -> Api {
    let client = testing::dynamo().await;
    let config = testing::fresh_table(&client, notification::TABLE).await;
    testing::spawn(notification::router(client, &config)).await
}

fn event(key: &str) -> Value {
    json!({"key": key, "kind": "order.completed", "title": "Order completed", "body": "Thanks!", "order_id": "o-1"})
}

async fn record(api: &Api, user: &str, key: &str) -> Value {
    api.post(&format!("/users/{user}/notifications"), event(key))
        .await
        .expect(201)
}

fn ids(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["id"].as_str().expect("id").parse().expect("numeric id"))
        .collect()
}

#[tokio::test]
async fn notifications_get_increasing_ids_and_list_after_a_cursor() {
    let api = notification_service().await;
    let first = record(&api, "u-1", "k-1").await;
    assert_eq!(first["id"], "1");
    assert_eq!(first["kind"], "order.completed");
    assert_eq!(record(&api, "u-1", "k-2").await["id"], "2");
    assert_eq!(record(&api, "u-1", "k-3").await["id"], "3");

    let all = api.get("/users/u-1/notifications").await.expect(200);
    assert_eq!(ids(&all), [1, 2, 3]);
    assert_eq!(all["latest_id"], "3");
    assert_eq!(all["unread"], 3);
    assert!(all.get("next_after").is_none());

    let missed = api
        .get("/users/u-1/notifications?after=1")
        .await
        .expect(200);
    assert_eq!(ids(&missed), [2, 3]);
    assert_eq!(missed["items"][0], all["items"][1]);
}

#[tokio::test]
async fn a_limited_page_says_where_to_continue() {
    let api = notification_service().await;
    for i in 0..5 {
        record(&api, "u-1", &format!("k-{i}")).await;
    }
    let page = api
        .get("/users/u-1/notifications?limit=2")
        .await
        .expect(200);
    assert_eq!(ids(&page), [1, 2]);
    assert_eq!(page["next_after"], "2");
    let page = api
        .get("/users/u-1/notifications?limit=2&after=4")
        .await
        .expect(200);
    assert_eq!(ids(&page), [5]);
    assert!(page.get("next_after").is_none());
}

#[tokio::test]
async fn feeds_are_per_user() {
    let api = notification_service().await;
    record(&api, "u-1", "k").await;
    assert_eq!(record(&api, "u-2", "k").await["id"], "1");
    let page = api.get("/users/u-3/notifications").await.expect(200);
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["latest_id"], "0");
}

#[tokio::test]
async fn recording_a_key_again_returns_the_first_recording_whatever_it_now_says() {
    let api = notification_service().await;
    let first = record(&api, "u-1", "o-1.completed").await;
    let again = api
        .post("/users/u-1/notifications", event("o-1.completed"))
        .await
        .expect(200);
    assert_eq!(again, first);
    // A saga run again by a Temporal reset reports the same event at another time.
    let mut rerun = event("o-1.completed");
    rerun["title"] = json!("Something else");
    rerun["data"] = json!({"at": "later"});
    let again = api
        .post("/users/u-1/notifications", rerun)
        .await
        .expect(200);
    assert_eq!(again, first);
    let mut other_kind = event("o-1.completed");
    other_kind["kind"] = json!("order.cancelled");
    api.post("/users/u-1/notifications", other_kind)
        .await
        .expect_problem(409, "key-reused");
    let mut other_order = event("o-1.completed");
    other_order["order_id"] = json!("o-2");
    api.post("/users/u-1/notifications", other_order)
        .await
        .expect_problem(409, "key-reused");
    let page = api.get("/users/u-1/notifications").await.expect(200);
    assert_eq!(ids(&page), [1]);
}

#[tokio::test]
async fn concurrent_recordings_of_one_key_record_once() {
    let api = notification_service().await;
    let attempts = (0..10).map(|_| {
        let api = api.clone();
        async move { api.post("/users/u-1/notifications", event("same")).await }
    });
    let replies = futures::future::join_all(attempts).await;
    testing::assert_created_once(&replies);
    let page = api.get("/users/u-1/notifications").await.expect(200);
    assert_eq!(ids(&page), [1]);
    assert_eq!(page["unread"], 1);
}

#[tokio::test]
async fn concurrent_recordings_get_every_id_once_and_a_reader_never_sees_a_gap() {
    let api = notification_service().await;
    let writers = (0..20).map(|i| {
        let api = api.clone();
        async move {
            api.post("/users/u-1/notifications", event(&format!("k-{i}")))
                .await
                .expect(201)
        }
    });
    let reader = {
        let api = api.clone();
        async move {
            // Catch up repeatedly while the writers run, as a reconnecting client does.
            let mut seen: Vec<u64> = Vec::new();
            while seen.len() < 20 {
                let after = seen.last().copied().unwrap_or(0);
                let page = api
                    .get(&format!("/users/u-1/notifications?after={after}"))
                    .await
                    .expect(200);
                seen.extend(ids(&page));
            }
            seen
        }
    };
    let (written, seen) = tokio::join!(futures::future::join_all(writers), reader);
    let mut written: Vec<u64> = written
        .iter()
        .map(|n| n["id"].as_str().expect("id").parse().expect("numeric"))
        .collect();
    written.sort_unstable();
    let expected: Vec<u64> = (1..=20).collect();
    assert_eq!(written, expected);
    assert_eq!(seen, expected, "the reader saw a gap or a duplicate");
}

#[tokio::test]
async fn marking_read_is_idempotent_and_counts_down_once() {
    let api = notification_service().await;
    record(&api, "u-1", "k-1").await;
    record(&api, "u-1", "k-2").await;
    let read = api
        .post("/users/u-1/notifications/1/read", json!(null))
        .await
        .expect(200);
    assert!(read["read_at"].is_string());
    let again = api
        .post("/users/u-1/notifications/1/read", json!(null))
        .await
        .expect(200);
    assert_eq!(again, read);
    let page = api.get("/users/u-1/notifications").await.expect(200);
    assert_eq!(page["unread"], 1);

    api.post("/users/u-1/notifications/9/read", json!(null))
        .await
        .expect_problem(404, "not-found");
    api.post("/users/u-2/notifications/1/read", json!(null))
        .await
        .expect_problem(404, "not-found");
    api.post("/users/u-1/notifications/x/read", json!(null))
        .await
        .expect_problem(404, "not-found");
}

#[tokio::test]
async fn structured_data_round_trips() {
    let api = notification_service().await;
    let mut body = event("k");
    body["data"] = json!({"step": "charge_payment", "attempt": 2, "ok": false, "detail": {"code": "declined"}});
    let recorded = api
        .post("/users/u-1/notifications", body.clone())
        .await
        .expect(201);
    assert_eq!(recorded["data"], body["data"]);
    let page = api.get("/users/u-1/notifications").await.expect(200);
    assert_eq!(page["items"][0]["data"], body["data"]);
}

#[tokio::test]
async fn invalid_notifications_are_422_and_record_nothing() {
    let api = notification_service().await;
    for body in [
        json!({"kind": "k", "title": "t"}),
        json!({"key": "k", "title": "t"}),
        json!({"key": "k", "kind": "k"}),
        json!({"key": "k 1", "kind": "k", "title": "t"}),
        json!({"key": "k", "kind": "a kind", "title": "t"}),
        json!({"key": "k", "kind": "k", "title": ""}),
        json!({"key": "k", "kind": "k", "title": "t", "order_id": "o 1"}),
        json!({"key": "k", "kind": "k", "title": "t", "data": [1]}),
        json!({"key": "k", "kind": "k", "title": "t", "urgent": true}),
        json!({"key": 1, "kind": "k", "title": "t"}),
    ] {
        let reply = api.post("/users/u-1/notifications", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:#?}");
    }
    api.post("/users/u%201/notifications", event("k"))
        .await
        .expect_problem(422, "validation-failed");
    let page = api.get("/users/u-1/notifications").await.expect(200);
    assert_eq!(page["latest_id"], "0");
}

#[tokio::test]
async fn keys_may_be_longer_than_ids_but_are_bounded() {
    let api = notification_service().await;
    let long_key = format!("{}.order.completed", "o".repeat(64));
    api.post("/users/u-1/notifications", event(&long_key))
        .await
        .expect(201);
    api.post("/users/u-1/notifications", event(&"k".repeat(129)))
        .await
        .expect_problem(422, "validation-failed");
}

#[tokio::test]
async fn bad_cursors_and_limits_are_400() {
    let api = notification_service().await;
    for query in [
        "after=x",
        "after=-1",
        "after=01",
        "limit=0",
        "limit=101",
        "before=3",
    ] {
        api.get(&format!("/users/u-1/notifications?{query}"))
            .await
            .expect_problem(400, "bad-request");
    }
}

#[tokio::test]
async fn unparseable_bodies_are_rejected() {
    let api = notification_service().await;
    api.assert_rejects_unparseable_bodies(Method::POST, "/users/u-1/notifications")
        .await;
}

#[tokio::test]
async fn when_down_it_answers_503() {
    let api = notification_service().await;
    api.set_failure_mode("down").await;
    api.post("/users/u-1/notifications", event("k"))
        .await
        .expect_problem(503, "service-unavailable");
    api.set_failure_mode("off").await;
    record(&api, "u-1", "k").await;
}
