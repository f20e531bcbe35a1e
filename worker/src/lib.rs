//! The order saga on Temporal: the [`workflow::OrderSaga`] workflow, its
//! [`activities`] over the services' HTTP APIs, a [`breaker`] per service, and the
//! long-running worker that hosts them against a local dev server or Temporal Cloud.

pub mod activities;
pub mod bench;
pub mod board;
pub mod breaker;
pub mod config;
pub mod history;
pub mod inbound;
pub mod metrics;
pub mod monitor;
pub mod payloads;
pub mod policies;
pub mod services;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timeline;
pub mod workflow;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use service_kit::payload_codec::{self, PayloadKeys};
use service_kit::serve::BoxError;
use service_kit::sigv4::RequestSigner;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_sdk::opentelemetry::OpenTelemetryPlugin;
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use crate::activities::SagaActivities;
use crate::breaker::CircuitBreaker;
use crate::config::{Deployment, WorkerConfig};
use crate::metrics::SagaMetrics;
use crate::services::ServiceClient;

/// How long running activities may finish after shutdown begins before they are
/// cancelled (and retried by Temporal on another worker).
pub const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(10);

/// How long after the grace period the process exits regardless (see [`run`]).
pub const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

/// Connects to Temporal from the SDK's standard environment: `TEMPORAL_ADDRESS`,
/// `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, and the profiles of
/// `temporal.toml` (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`). The same binary thus
/// talks to a local dev server or to Temporal Cloud, with an API key or mTLS.
///
/// Payloads are encrypted with the key ring of `PAYLOAD_KEYS` / `PAYLOAD_KEYS_ARN`
/// (see `service_kit::payload_codec`).
pub async fn connect() -> Result<Client, BoxError> {
    connect_with(PayloadKeys::from_env().await?).await
}

/// [`connect`] with the given payload keys (`None`: payloads in clear).
pub async fn connect_with(payload_keys: Option<Arc<PayloadKeys>>) -> Result<Client, BoxError> {
    // The SDK's config error is not `Send`; keep its message.
    let (connection, loaded) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
            .map_err(|error| format!("Temporal connection settings: {error}"))?;
    let mut options = ClientOptions::new(loaded.namespace)
        .data_converter(payload_codec::data_converter(payload_keys));
    if service_kit::telemetry::exporting() {
        // Traces workflow runs, activities and the client's calls, and carries the
        // context in each one's `_tracer-data` header (workers take the client's plugins).
        options = options.plugin(OpenTelemetryPlugin::builder().build());
    }
    Ok(Client::new(
        Connection::connect(connection).await?,
        options.build(),
    )?)
}

/// The activities and the breakers they share: a client and a breaker for each service
/// the worker is configured to call.
pub fn saga_activities(
    config: &WorkerConfig,
    signer: Option<RequestSigner>,
    metrics: SagaMetrics,
) -> Result<(SagaActivities, Vec<Arc<CircuitBreaker>>), BoxError> {
    let http = reqwest::Client::builder()
        .timeout(config.downstream_timeout)
        .build()?;
    let mut clients = BTreeMap::new();
    let mut breakers = Vec::new();
    for (&service, url) in &config.services {
        let breaker = Arc::new(
            CircuitBreaker::new(service, config.breaker)
                .counted(metrics.clone(), &config.task_queue),
        );
        breakers.push(breaker.clone());
        let client = ServiceClient::new(url, http.clone(), breaker, signer.clone());
        clients.insert(service, client);
    }
    let services: Vec<_> = clients.keys().copied().collect();
    metrics.start_at_zero(&config.task_queue, &services);
    let activities = SagaActivities::new(clients, metrics)?;
    Ok((activities, breakers))
}

/// The SDK's runtime on the current Tokio runtime and the saga's metrics: both
/// reported at `config.metrics_addr` when it is set (see `metrics.rs`), else nowhere.
pub fn runtime(config: &WorkerConfig) -> Result<(Runtime, SagaMetrics), BoxError> {
    let Some(addr) = config.metrics_addr else {
        return Ok((
            Runtime::from_current_tokio(Default::default())?,
            SagaMetrics::disabled(),
        ));
    };
    let (meter, bound) = metrics::serve(addr)?;
    tracing::info!(address = %bound, "serving Prometheus metrics at /metrics");
    let telemetry = TelemetryOptions::builder().metrics(meter.clone()).build();
    let options = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        .build()?;
    Ok((
        Runtime::from_current_tokio(options)?,
        SagaMetrics::new(meter),
    ))
}

/// A worker for the saga on `config.task_queue`, and its breakers.
pub fn saga_worker(
    runtime: &Runtime,
    client: Client,
    config: &WorkerConfig,
    signer: Option<RequestSigner>,
    metrics: SagaMetrics,
) -> Result<(Worker, Vec<Arc<CircuitBreaker>>), BoxError> {
    let (activities, breakers) = saga_activities(config, signer, metrics)?;
    let options = WorkerOptions::new(config.task_queue.clone())
        .register_workflow::<workflow::OrderSaga>()?
        .register_activities(activities)
        .worker_interceptor(monitor::TaskMonitor::new(workflow::SIGNALS))
        .graceful_shutdown_period(GRACEFUL_SHUTDOWN)
        // Without a deployment, the SDK's default: unversioned, its build id a hash of
        // the executable, as before versioning was configurable.
        .maybe_deployment_options(config.deployment.as_ref().map(Deployment::options))
        .build();
    Ok((Worker::new(runtime, client, options)?, breakers))
}

/// Runs the worker until SIGTERM or Ctrl-C, then shuts down gracefully: polling stops,
/// running activities get [`GRACEFUL_SHUTDOWN`] to finish. The process exits within
/// [`SHUTDOWN_MARGIN`] after that in any case: workflow code runs on this task, and a
/// workflow that never yields (a loop over a future that is always ready) would keep
/// the run loop from ever seeing the shutdown. The SDK has no deadlock detection yet.
pub async fn run(config: WorkerConfig) -> Result<(), BoxError> {
    let status_listener = match config.status_addr {
        Some(addr) => Some(status::bind(addr).await?),
        None => None,
    };
    let (runtime, metrics) = runtime(&config)?;
    let client = connect().await?;
    let signer = RequestSigner::from_env().await?;
    let (mut worker, breakers) = saga_worker(&runtime, client, &config, signer, metrics)?;
    if let Some(table) = &config.breakers_table {
        let id = uuid::Uuid::new_v4().simple().to_string();
        board::start(table, id, breakers.clone()).await;
    }
    if let Some(listener) = status_listener {
        tokio::spawn(async move {
            if let Err(error) = status::serve(listener, breakers).await {
                tracing::error!(%error, "status endpoint stopped");
            }
        });
    }
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        service_kit::serve::shutdown_signal().await;
        shutdown();
        // A plain thread: it must run even if every task of this runtime is stuck.
        std::thread::spawn(|| {
            std::thread::sleep(GRACEFUL_SHUTDOWN + SHUTDOWN_MARGIN);
            tracing::error!(
                "the worker did not stop within its grace period; exiting (in-flight work is retried by Temporal)"
            );
            std::process::exit(1);
        });
    });
    match &config.deployment {
        Some(deployment) => tracing::info!(
            task_queue = %config.task_queue,
            deployment = %deployment.name,
            build_id = %deployment.build_id,
            "worker polling (versioned, sagas pinned)"
        ),
        None => tracing::info!(task_queue = %config.task_queue, "worker polling"),
    }
    // Not `Send`: it must run on this task, never under `tokio::spawn`.
    worker.run().await?;
    tracing::info!("worker stopped");
    Ok(())
}
