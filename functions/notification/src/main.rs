#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    service_kit::serve::run_service("notifications", notification::router).await
}
