#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    use worker::config::{DEFAULT_STATUS_ADDR, WorkerConfig};
    let config = WorkerConfig::from_env()?;
    // `worker --health`: the container health check (the image has no shell).
    if std::env::args().nth(1).as_deref() == Some("--health") {
        let port = config.status_addr.unwrap_or(DEFAULT_STATUS_ADDR).port();
        service_kit::serve::probe_and_exit(&format!("http://127.0.0.1:{port}/health")).await;
    }
    // Workflow spans take their ids from the SDK's replay-safe generator.
    service_kit::telemetry::init_with_ids(
        "worker",
        temporalio_sdk::opentelemetry::WorkflowIdGenerator::default(),
    );
    let result = worker::run(config).await;
    service_kit::telemetry::shutdown();
    result
}
