#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    let config = worker::config::WorkerConfig::from_env()?;
    // `worker --health`: the container health check (the image has no shell).
    if std::env::args().nth(1).as_deref() == Some("--health") {
        let port = config.status_addr.map_or(9090, |addr| addr.port());
        service_kit::serve::probe_and_exit(&format!("http://127.0.0.1:{port}/health")).await;
    }
    service_kit::telemetry::init();
    worker::run(config).await
}
