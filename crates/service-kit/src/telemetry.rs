//! Logs and traces.
//!
//! Logs: JSON lines under Lambda (CloudWatch parses them), compact text locally.
//!
//! Traces: OpenTelemetry spans, exported over OTLP/HTTP (protobuf) only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (Jaeger
//! with Docker, the ADOT collector on AWS). Unset, no span is built for export and
//! nothing is sent. The other standard variables apply: `OTEL_SERVICE_NAME` (default:
//! the function's name), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_BSP_*`, and `OTEL_SDK_DISABLED=true` turns export off.
//!
//! Context crosses every hop as W3C `traceparent`: [`continue_trace`] at each HTTP
//! edge, [`inject_trace`] on each call to a service, and the Temporal SDK's plugin in
//! the `_tracer-data` header of workflows, updates, queries and activities.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Which spans are exported, in `RUST_LOG` syntax (`OTEL_TRACES_FILTER` overrides it):
/// the project's own at INFO, and the AWS SDK's one span per DynamoDB call, which it
/// makes at DEBUG (`DynamoDB.PutItem`…). Not the Temporal SDK's internal spans: its
/// plugin makes the workflow and activity spans directly.
const DEFAULT_TRACES_FILTER: &str = "info,aws_sdk_dynamodb=debug,temporalio_sdk_core=warn,\
    temporalio_client=warn,temporalio_common=warn,h2=warn,hyper=warn,tower=warn";

static TRACER_PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber for a process named `service` in traces.
pub fn init(service: &'static str) {
    init_with_ids(service, RandomIdGenerator::default())
}

/// [`init`], with the span ids made by `ids`: the worker's come from the Temporal SDK's
/// generator, so that a replayed workflow gives its spans the ids they had.
pub fn init_with_ids(service: &'static str, ids: impl IdGenerator + 'static) {
    let traces = tracer_provider(service, ids).map(|provider| {
        let tracer = provider.tracer("order-saga");
        let filter = EnvFilter::try_from_env("OTEL_TRACES_FILTER")
            .unwrap_or_else(|_| EnvFilter::new(DEFAULT_TRACES_FILTER));
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(filter)
    });
    // `try_init` because tests may initialise more than once in one process.
    let _ = tracing_subscriber::registry()
        .with(log_layer())
        .with(traces)
        .try_init();
}

/// `RUST_LOG` filters (default `info`); `LOG_FORMAT` (`json` or `text`) overrides the
/// choice made from the environment.
fn log_layer<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => crate::serve::running_in_lambda(),
    };
    let layer = tracing_subscriber::fmt::layer();
    if json {
        layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed()
    } else {
        // Colours only for a terminal, not for log files.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        layer.compact().with_ansi(ansi).with_filter(filter).boxed()
    }
}

/// Whether an OTLP endpoint is configured and the SDK not disabled.
fn configured() -> bool {
    let set = |name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && !disabled
}

/// The process's tracer provider, installed as the global one with the W3C propagator,
/// or `None` when nothing is exported (or the exporter cannot be built: logged, and the
/// process runs untraced rather than not at all).
fn tracer_provider(
    service: &'static str,
    ids: impl IdGenerator + 'static,
) -> Option<SdkTracerProvider> {
    if !configured() {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("traces are not exported: {error}");
            return None;
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(ids)
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    let _ = TRACER_PROVIDER.set(provider.clone());
    Some(provider)
}

/// Sends the spans ended so far. Under Lambda, after each invocation: the environment
/// may be frozen or ended before the batch's timer fires.
pub async fn flush() {
    if let Some(provider) = TRACER_PROVIDER.get() {
        // The export blocks its caller until sent; not on a runtime worker.
        let provider = provider.clone();
        let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    }
}

/// Sends what is left and stops the exporter: at the end of a process.
pub fn shutdown() {
    if let Some(provider) = TRACER_PROVIDER.get() {
        let _ = provider.shutdown();
    }
}

/// Makes `span` continue the trace whose context `headers` carry (`traceparent`), if
/// any: the caller's span becomes its parent.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !exporting() {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Refused only when no layer records the span: then there is nothing to continue.
    let _ = span.set_parent(parent);
}

/// Adds `span`'s context (`traceparent`) to `headers`, so that the callee continues
/// the trace under it.
pub fn inject_trace(span: &tracing::Span, headers: &mut HeaderMap) {
    if !exporting() {
        return;
    }
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

/// Names `span` in traces (its `otel.name` field, declared `Empty`), only when spans
/// are exported: the name is formatted per request, which untraced processes skip.
pub fn name_span(span: &tracing::Span, name: impl FnOnce() -> String) {
    if exporting() {
        span.record("otel.name", name());
    }
}

/// The trace id of `span`, when it is part of an exported trace.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    if !exporting() {
        return None;
    }
    use opentelemetry::trace::TraceContextExt;
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Whether this process exports spans: [`init`] found an endpoint and built the
/// exporter. The Temporal SDK's plugin is installed only then.
pub fn exporting() -> bool {
    TRACER_PROVIDER.get().is_some()
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
