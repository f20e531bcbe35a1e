use std::time::Duration;

use service_kit::config;

#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    // How long the `card_slow` test card makes the caller wait.
    let slow_delay = Duration::from_millis(config::optional("PAYMENT_SLOW_MS", 3000)?);
    service_kit::serve::run_service("payment", "payments", |client, config| {
        payment::router(client, config, slow_delay)
    })
    .await
}
