#[tokio::main]
async fn main() -> Result<(), service_kit::serve::BoxError> {
    // `gateway --print-openapi`: the API document, for generating clients offline.
    if std::env::args().nth(1).as_deref() == Some("--print-openapi") {
        println!(
            "{}",
            serde_json::to_string_pretty(&gateway::openapi_document())?
        );
        return Ok(());
    }
    service_kit::serve::answer_health_check_flag().await;
    gateway::run_from_env().await
}
