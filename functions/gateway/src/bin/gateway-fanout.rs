//! `gateway-fanout`: on AWS, pushes each new notification to its user's WebSocket
//! connections. Triggered by the notification table's DynamoDB stream; posts through
//! the WebSocket API at `WEBSOCKET_ENDPOINT`.

use std::sync::Arc;

use gateway::fanout::{Pusher, fan_out, new_notification};
use gateway::saga::Sagas;
use gateway::{AppState, config::GatewayConfig};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use service_kit::config::required;
use service_kit::serve::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    service_kit::telemetry::init();
    let config = GatewayConfig::from_env()?;
    let pusher = Arc::new(Pusher::new(&required("WEBSOCKET_ENDPOINT")?).await);
    let dynamo = service_kit::dynamo::client_from_env().await;
    let sagas = Sagas::new(config.task_queue.clone());
    let signer = service_kit::sigv4::RequestSigner::from_env().await?;
    let state = Arc::new(AppState::new(config, dynamo, sagas, signer).await?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
            let (state, pusher) = (state.clone(), pusher.clone());
            async move {
                for record in event.payload.records {
                    if record.event_name != "INSERT" {
                        continue;
                    }
                    let key = |name: &str| match record.change.keys.get(name) {
                        Some(serde_dynamo::AttributeValue::S(value)) => Some(value.clone()),
                        _ => None,
                    };
                    if let (Some(pk), Some(sk)) = (key("pk"), key("sk"))
                        && let Some((user_id, seq)) = new_notification(&pk, &sk)
                    {
                        fan_out(&state, &pusher, &user_id, seq).await;
                    }
                }
                Ok::<(), lambda_runtime::Error>(())
            }
        },
    ))
    .await
}
