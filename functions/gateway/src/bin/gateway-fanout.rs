//! `gateway-fanout`: on AWS, pushes each new notification to its user's WebSocket
//! connections. Triggered by the notification table's DynamoDB stream; posts through
//! the WebSocket API at `WEBSOCKET_ENDPOINT`.

use std::sync::Arc;

use gateway::events::fanout::{Fanout, new_notification};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use service_kit::serve::BoxError;
use service_kit::startup::mark;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    mark("main");
    service_kit::telemetry::init("gateway-fanout");
    mark("telemetry");
    let fanout = Arc::new(Fanout::from_env().await?);
    mark("fanout");
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
            let fanout = fanout.clone();
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
                        fanout.fan_out(&user_id, seq).await;
                    }
                }
                // Before the environment may be frozen (see service_kit::telemetry).
                service_kit::telemetry::flush().await;
                Ok::<(), lambda_runtime::Error>(())
            }
        },
    ))
    .await
}
