#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    service_kit::serve::run_service("inventory", "inventory", inventory::router).await
}
