//! One order, one trace: the gateway, the saga's workflow and activities, and each
//! service with its DynamoDB calls, exported over OTLP/HTTP to a receiver in this test.
//!
//! A test binary of its own: the tracer provider is global to the process and is
//! configured, as in production, from `OTEL_EXPORTER_OTLP_ENDPOINT` at start.

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use saga_contract::temporal::OrderSaga;
use serde_json::json;
use service_kit::testing::Method;
use temporalio_client::WorkflowGetResultOptions;

use support::{As, Stack};

/// A span as received, reduced to what the assertions need.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: SpanKind,
    /// The `service` attribute of the functions' request and call spans.
    service: Option<String>,
    /// The answer's status, on call spans.
    http_status: Option<i64>,
    /// Whether the span's status is an error.
    error: bool,
}

type Spans = Arc<Mutex<Vec<Received>>>;

/// An OTLP/HTTP receiver: `POST /v1/traces` with an `ExportTraceServiceRequest` in
/// protobuf, as the OTLP exporter sends it to Jaeger or to a collector.
fn receiver(spans: Spans) -> Router {
    Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| async move {
            let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
            let received = request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .flat_map(|scope| &scope.spans)
                .map(|span| Received {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name.clone(),
                    kind: span.kind(),
                    service: match attribute(span, "service") {
                        Some(Value::StringValue(service)) => Some(service.clone()),
                        _ => None,
                    },
                    http_status: match attribute(span, "http.response.status_code") {
                        Some(Value::IntValue(status)) => Some(*status),
                        _ => None,
                    },
                    error: span
                        .status
                        .as_ref()
                        .is_some_and(|status| status.code() == StatusCode::Error),
                });
            spans.lock().expect("spans").extend(received);
            ""
        }),
    )
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The spans of one trace, by id, with the questions the test asks of them.
struct Trace {
    spans: HashMap<String, Received>,
}

impl Trace {
    fn named(&self, name: &str) -> Vec<&Received> {
        self.spans
            .values()
            .filter(|span| span.name == name)
            .collect()
    }

    fn one(&self, name: &str) -> Option<&Received> {
        self.spans.values().find(|span| span.name == name)
    }

    fn parent(&self, span: &Received) -> Option<&Received> {
        self.spans.get(&span.parent_span_id)
    }

    /// Whether `ancestor` is on `span`'s chain of parents.
    fn descends_from(&self, span: &Received, ancestor: &Received) -> bool {
        let mut current = self.parent(span);
        while let Some(parent) = current {
            if parent.span_id == ancestor.span_id {
                return true;
            }
            current = self.parent(parent);
        }
        false
    }

    /// The server span of `service`'s route `name` whose caller is a call span from an
    /// activity, with a DynamoDB call below it.
    fn service_operation(&self, service: &str, name: &str) -> Option<(&Received, &Received)> {
        self.named(name).into_iter().find_map(|operation| {
            let call = self.parent(operation)?;
            let dynamo = self.spans.values().find(|span| {
                span.name.starts_with("DynamoDB.") && span.parent_span_id == operation.span_id
            })?;
            (operation.service.as_deref() == Some(service)
                && operation.kind == SpanKind::Server
                && call.kind == SpanKind::Client
                && call.service.as_deref() == Some(service))
            .then_some((operation, dynamo))
        })
    }
}

/// Set in the process that places the order (see below).
const PLACE_THE_ORDER: &str = "TRACE_TEST_PLACES_THE_ORDER";
/// The trace of the order, and the browser's span that starts it: the UI sends one
/// `traceparent` per user action.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const BROWSER_SPAN: &str = "00f067aa0ba902b7";

/// The stack runs in a child process (this same test binary) started with the
/// exporter's environment, as a function or the worker is started; this process
/// receives its spans and reads the trace.
#[tokio::test(flavor = "multi_thread")]
async fn one_order_is_one_trace_from_the_gateway_to_each_table() {
    if std::env::var_os(PLACE_THE_ORDER).is_some() {
        return place_one_order().await;
    }
    let spans: Spans = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let app = receiver(spans.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let child = tokio::process::Command::new(std::env::current_exe().expect("this test"))
        .args([
            "--exact",
            "one_order_is_one_trace_from_the_gateway_to_each_table",
        ])
        .args(["--nocapture"])
        .env(PLACE_THE_ORDER, "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        // Export within a fifth of a second rather than the default five.
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .status()
        .await
        .expect("run the stack");
    assert!(child.success(), "placing the traced order failed");
    // The child flushed its spans before it exited.
    let spans: HashMap<_, _> = spans
        .lock()
        .expect("spans")
        .iter()
        .filter(|span| span.trace_id == TRACE_ID)
        .map(|span| (span.span_id.clone(), span.clone()))
        .collect();
    let trace = Trace { spans };

    // The gateway's route continues the browser's trace.
    let route = trace
        .one("POST /v1/orders")
        .expect("the gateway's route span");
    assert_eq!(route.parent_span_id, BROWSER_SPAN);
    assert_eq!(route.kind, SpanKind::Server);
    assert_eq!(route.service.as_deref(), Some("gateway"));
    for check in ["verify token", "rate limit"] {
        let span = trace
            .one(check)
            .unwrap_or_else(|| panic!("no `{check}` span"));
        assert!(
            trace.descends_from(span, route),
            "`{check}` is not under the route"
        );
    }

    // The route starts the saga, whose workflow runs under that start.
    let start = trace
        .spans
        .values()
        .find(|span| span.name.starts_with("UpdateWithStartWorkflow:"))
        .expect("the saga's start");
    assert!(trace.descends_from(start, route));
    let workflow = trace
        .one("RunWorkflow:OrderSaga")
        .expect("the workflow run");
    assert!(trace.descends_from(workflow, start));

    // Each step's activity runs under the workflow, and calls its service, which
    // continues the trace with its route and its DynamoDB call.
    for (activity, service, route) in [
        ("create_order", "order", "PUT /orders/{order_id}"),
        (
            "reserve_inventory",
            "inventory",
            "PUT /reservations/{order_id}",
        ),
        (
            "charge_payment",
            "payment",
            "POST /payments/{order_id}/charge",
        ),
        (
            "commit_reservation",
            "inventory",
            "POST /reservations/{order_id}/commit",
        ),
        (
            "record_notification",
            "notification",
            "POST /users/{user_id}/notifications",
        ),
    ] {
        // One span per attempt: a retried step has several.
        let runs = trace.named(&format!("RunActivity:{activity}"));
        assert!(!runs.is_empty(), "no span of the activity {activity}");
        for run in &runs {
            assert!(
                trace.descends_from(run, workflow),
                "{activity} is not under the workflow"
            );
        }
        let (operation, dynamo) = trace
            .service_operation(service, route)
            .unwrap_or_else(|| panic!("no `{route}` of {service} with a DynamoDB call"));
        assert!(
            runs.iter().any(|run| trace.descends_from(operation, run)),
            "{service}'s `{route}` is not under {activity}"
        );
        assert!(trace.descends_from(dynamo, operation));
    }

    // The charge's two transient failures are failed calls; its last attempt is not.
    let charges: Vec<_> = trace
        .named("payment POST")
        .into_iter()
        .filter(|call| call.kind == SpanKind::Client)
        .map(|call| (call.http_status, call.error))
        .collect();
    let failed = charges.iter().filter(|c| **c == (Some(503), true)).count();
    assert_eq!(failed, 2, "the charge's calls: {charges:?}");
    assert!(charges.contains(&(Some(201), false)), "{charges:?}");
}

/// The child: the whole stack in this process, exporting to the parent's receiver.
async fn place_one_order() {
    service_kit::telemetry::init("trace-test");
    assert!(service_kit::telemetry::exporting(), "no OTLP endpoint");
    let stack = Stack::with_worker().await;
    stack.add_product("MUG", 10, 1250).await;
    let (_, tokens) = stack.customer("trace@example.com").await;
    let me = As::new(&stack.gateway, &tokens);
    let placed = me
        .send(
            Method::POST,
            "/v1/orders",
            // Fails twice (503), then approves: the retries are in the trace too.
            Some(
                json!({"lines": [{"sku": "MUG", "quantity": 1}], "payment_method": "card_transient_2"}),
            ),
            &[
                ("idempotency-key", "traced-order"),
                ("traceparent", &format!("00-{TRACE_ID}-{BROWSER_SPAN}-01")),
            ],
        )
        .await
        .expect(201);
    let order_id = placed["order_id"].as_str().expect("order id").to_owned();
    // The order remembers its trace, and its detail links to it.
    let detail = me.until_completed(&order_id).await;
    assert_eq!(detail["order"]["trace_id"], TRACE_ID);
    assert_eq!(
        detail["trace_url"],
        format!("http://localhost:16686/trace/{TRACE_ID}")
    );
    // The workflow's span ends with the saga, after its last step.
    stack
        .temporal
        .get_workflow_handle::<OrderSaga>(&order_id)
        .get_result(WorkflowGetResultOptions::default())
        .await
        .expect("the saga's result");
    service_kit::telemetry::shutdown();
}
