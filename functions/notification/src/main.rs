#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    service_kit::serve::run_service(notification::router).await
}
