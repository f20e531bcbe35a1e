#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    service_kit::telemetry::init();
    worker::run(worker::config::WorkerConfig::from_env()?).await
}
