#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    service_kit::serve::run_service("customer", "customers", customer::router).await
}
