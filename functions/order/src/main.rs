#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    let limits = order::limits_from_env()?;
    service_kit::serve::run_service("order", "orders", move |client, config| {
        order::router(client, config, limits)
    })
    .await
}
