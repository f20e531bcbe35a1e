//! Saga payloads are stored in Temporal encrypted, and an administrator reads them in
//! clear through the codec endpoint (Temporal's remote codec protocol), from the
//! Temporal Web UI's origin only.

use saga_contract::temporal::OrderSaga;
use serde_json::{Value, json};
use service_kit::testing::Method;
use temporalio_client::WorkflowFetchHistoryOptions;

use crate::support::{As, Stack};

const DECODE: &str = "/v1/admin/codec/decode";
const ENCODE: &str = "/v1/admin/codec/encode";

/// The input payload of the order's workflow, as Temporal stores it.
async fn stored_input(stack: &Stack, order_id: &str) -> Value {
    let history = stack
        .temporal
        .get_workflow_handle::<OrderSaga>(order_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .expect("fetch the history");
    let history: Value = serde_json::from_slice(&history).expect("json");
    history["events"][0]["attributes"]["WorkflowExecutionStartedEventAttributes"]["input"]
        ["payloads"][0]
        .clone()
}

fn base64_decode(text: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().expect("a base64 string"))
        .expect("base64")
}

#[tokio::test]
async fn a_stored_payload_is_not_readable_without_the_key_and_decodes_for_an_admin() {
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (user_id, tokens) = stack.customer("ada@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let placed = me
        .order(
            "codec",
            json!([{"sku": "MUG", "quantity": 2}]),
            "card_approve",
        )
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("id").to_owned();
    me.until_completed(&order_id).await;

    let stored = stored_input(&stack, &order_id).await;
    assert_eq!(
        base64_decode(&stored["metadata"]["encoding"]),
        b"binary/encrypted"
    );
    let ciphertext = base64_decode(&stored["data"]);
    assert!(serde_json::from_slice::<Value>(&ciphertext).is_err());
    let text = String::from_utf8_lossy(&ciphertext);
    for clear in [user_id.as_str(), "MUG", "card_approve", "json/plain"] {
        assert!(!text.contains(clear), "{clear} is readable in Temporal");
    }

    let request = json!({"payloads": [{"metadata": stored["metadata"], "data": stored["data"]}]});
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    let decoded = admin.post(DECODE, request.clone()).await.expect(200);
    let payload = &decoded["payloads"][0];
    assert_eq!(
        base64_decode(&payload["metadata"]["encoding"]),
        b"json/plain"
    );
    let input: Value = serde_json::from_slice(&base64_decode(&payload["data"])).expect("json");
    assert_eq!(input["order_id"], order_id.as_str());
    assert_eq!(input["customer_id"], user_id.as_str());
    assert_eq!(input["lines"][0]["sku"], "MUG");

    // The customer whose order it is may not read it this way, nor may anyone else.
    me.post(DECODE, request.clone())
        .await
        .expect_problem(403, "forbidden");
    let anonymous = stack.gateway.post(DECODE, request).await;
    assert_eq!(anonymous.status.as_u16(), 401, "{anonymous:?}");
}

#[tokio::test]
async fn payloads_in_clear_pass_through_encode_round_trips_and_bad_payloads_are_refused() {
    let stack = Stack::start().await;
    let admin = stack.admin().await;
    let admin = As::new(&stack.gateway, &admin);
    // "json/plain" and "\"approve\"": what `temporal workflow signal --input` sends.
    let clear = json!({"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "ImFwcHJvdmUi"});
    let decoded = admin
        .post(DECODE, json!({"payloads": [clear]}))
        .await
        .expect(200);
    assert_eq!(decoded["payloads"][0], clear);

    // No payloads: protobuf JSON leaves the field out.
    let empty = admin.post(ENCODE, json!({})).await.expect(200);
    assert_eq!(empty, json!({"payloads": []}));

    // What the CLI or the Web UI sends (a signal's input) is encrypted like the saga's
    // own payloads, and opens again.
    let encoded = admin
        .post(ENCODE, json!({"payloads": [clear]}))
        .await
        .expect(200);
    let sealed = &encoded["payloads"][0];
    assert_eq!(
        base64_decode(&sealed["metadata"]["encoding"]),
        b"binary/encrypted"
    );
    assert_ne!(sealed["data"], clear["data"]);
    let reopened = admin.post(DECODE, encoded.clone()).await.expect(200);
    assert_eq!(reopened["payloads"][0], clear);
    let (_, customer) = stack.customer("ada@example.com").await;
    As::new(&stack.gateway, &customer)
        .post(ENCODE, json!({"payloads": [clear]}))
        .await
        .expect_problem(403, "forbidden");

    // An encrypted payload whose bytes were changed, or under a key the gateway lacks.
    let keys = service_kit::payload_codec::test_keys();
    let ring = keys.ring().await.expect("the test ring");
    let sealed = ring.encrypt(&service_kit::payload_codec::test_payload(
        "json/plain",
        b"1",
    ));
    let as_json = |payload: &service_kit::payload_codec::Payload| {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        json!({
            "metadata": payload.metadata.iter().map(|(k, v)| (k.clone(), json!(b64(v)))).collect::<serde_json::Map<_, _>>(),
            "data": b64(&payload.data),
        })
    };
    let mut tampered = sealed.clone();
    let last = tampered.data.len() - 1;
    tampered.data[last] ^= 1;
    let mut unknown_key = sealed.clone();
    unknown_key
        .metadata
        .insert("encryption-key-id".into(), b"retired".to_vec());
    for bad in [tampered, unknown_key] {
        let problem = admin
            .post(
                DECODE,
                json!({"payloads": [as_json(&sealed), as_json(&bad)]}),
            )
            .await
            .expect_problem(422, "undecodable-payload");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("payloads[1]"),
            "{problem}"
        );
    }

    admin
        .post(DECODE, json!({"payloads": [{"data": "not base64!"}]}))
        .await
        .expect_problem(422, "validation-failed");
    admin
        .post(DECODE, json!({"payload": []}))
        .await
        .expect_problem(422, "validation-failed");
    let too_many = vec![clear; 2000];
    admin
        .post(DECODE, json!({"payloads": too_many}))
        .await
        .expect_problem(413, "body-too-large");
}

#[tokio::test]
async fn browsers_may_call_the_codec_only_from_the_temporal_web_ui() {
    let stack = Stack::start().await;
    let preflight = |origin: &'static str, path: &'static str| {
        let request = stack
            .gateway
            .http
            .request(Method::OPTIONS, format!("{}{path}", stack.gateway.base_url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-namespace",
            );
        async move {
            let reply = request.send().await.expect("preflight");
            reply
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().expect("ascii").to_owned())
        }
    };
    // The test gateway's TEMPORAL_UI_URL is http://localhost:8233; its UI's origin is
    // http://localhost:5173.
    assert_eq!(
        preflight("http://localhost:8233", DECODE).await.as_deref(),
        Some("http://localhost:8233")
    );
    assert_eq!(preflight("http://localhost:5173", DECODE).await, None);
    assert_eq!(preflight("https://evil.example", DECODE).await, None);
    assert_eq!(preflight("http://localhost:8233", "/v1/orders").await, None);
    assert_eq!(
        preflight("http://localhost:5173", "/v1/orders")
            .await
            .as_deref(),
        Some("http://localhost:5173")
    );
}
