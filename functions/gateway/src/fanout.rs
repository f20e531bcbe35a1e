//! Pushing events to AWS WebSocket API connections.
//!
//! The `gateway-fanout` function reads the notification table's DynamoDB stream: for
//! each new notification it loads the event from the notification service (which owns
//! its shape) and posts it to every connection of its user, forgetting connections that
//! are gone.

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use serde_json::Value;

use crate::AppState;
use crate::routes::events::events_after;
use crate::routes::notifications::feed_id;

pub struct Pusher {
    client: Client,
}

/// What a push achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Delivered,
    /// The connection no longer exists.
    Gone,
    Failed,
}

impl Pusher {
    /// A client of the WebSocket API's management endpoint
    /// (`https://<api id>.execute-api.<region>.amazonaws.com/<stage>`).
    pub async fn new(endpoint: &str) -> Self {
        let config = aws_config_for(endpoint).await;
        Self {
            client: Client::from_conf(config),
        }
    }

    pub async fn push(&self, connection_id: &str, event: &Value) -> Pushed {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(event.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Pushed::Delivered,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_gone_exception()) =>
            {
                Pushed::Gone
            }
            Err(error) => {
                tracing::warn!(error = %aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&error), "push failed");
                Pushed::Failed
            }
        }
    }
}

async fn aws_config_for(endpoint: &str) -> aws_sdk_apigatewaymanagement::Config {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_apigatewaymanagement::config::Builder::from(&shared)
        .endpoint_url(endpoint)
        .build()
}

/// A new notification, from the keys of a stream record: `USER#<user>` / `N#<seq>`.
pub fn new_notification(pk: &str, sk: &str) -> Option<(String, u64)> {
    let user_id = pk.strip_prefix("USER#")?;
    let seq = sk.strip_prefix("N#")?.parse().ok()?;
    Some((user_id.to_owned(), seq))
}

/// Pushes notification `seq` of `user_id` to the user's connections.
pub async fn fan_out(state: &AppState, pusher: &Pusher, user_id: &str, seq: u64) {
    let connections = match state.connections.of_user(user_id).await {
        Ok(connections) if !connections.is_empty() => connections,
        Ok(_) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot list connections");
            return;
        }
    };
    let events = match events_after(state, user_id, seq.saturating_sub(1)).await {
        Ok(events) => events,
        Err(problem) => {
            tracing::warn!(%problem, "cannot load the event");
            return;
        }
    };
    let Some(event) = events
        .into_iter()
        .find(|e| e["id"].as_str().and_then(feed_id) == Some(seq))
    else {
        return;
    };
    for connection_id in connections {
        if pusher.push(&connection_id, &event).await == Pushed::Gone {
            let _ = state.connections.forget(&connection_id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_keys_name_the_user_and_the_sequence() {
        assert_eq!(
            new_notification("USER#u-1", "N#00000000000000000042"),
            Some(("u-1".to_owned(), 42))
        );
        assert_eq!(new_notification("USER#u-1", "FEED"), None);
        assert_eq!(new_notification("USER#u-1", "KEY#k"), None);
        assert_eq!(new_notification("CONFIG", "FAILURE_MODE"), None);
    }
}
