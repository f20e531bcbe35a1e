//! Pushing events to AWS WebSocket API connections.
//!
//! The `gateway-fanout` function reads the notification table's DynamoDB stream: for
//! each new notification it loads the event from the notification service (which owns
//! its shape) and posts it to every connection of its user, forgetting connections that
//! are gone, and closing those whose access token has expired: the token is checked at
//! `$connect`, and its expiry on every push after that.
//!
//! It needs only the gateway's table, the notification service and the WebSocket API:
//! no signing secret, no other service.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use service_kit::config::{ConfigError, base_url, optional, required, table_name};
use service_kit::serve::BoxError;
use service_kit::services::ServiceUrls;
use service_kit::sigv4::RequestSigner;

use crate::auth::now_secs;
use crate::downstream::Downstream;
use crate::events::connections::Connections;
use crate::events::routes::events_after;
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

    /// Closes a connection from the server's side.
    pub async fn disconnect(&self, connection_id: &str) {
        let result = self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await;
        if let Err(error) = result
            && !error
                .as_service_error()
                .is_some_and(|e| e.is_gone_exception())
        {
            tracing::warn!(error = %aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&error), "cannot close a connection");
        }
    }

    /// Sends `event`, a notification in JSON, to the connection.
    pub async fn push(&self, connection_id: &str, event: &str) -> Pushed {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(event))
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
    let shared = service_kit::aws::config().await;
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

/// What `gateway-fanout` works with, from its environment: `TABLE_NAME` (the gateway's
/// table), `NOTIFICATION_URL`, `DOWNSTREAM_TIMEOUT_MS` (5000), `WEBSOCKET_ENDPOINT` and
/// `SERVICE_AUTH`.
pub struct Fanout {
    connections: Connections,
    feed: Downstream,
    pusher: Pusher,
}

impl Fanout {
    pub fn new(connections: Connections, feed: Downstream, pusher: Pusher) -> Self {
        Self {
            connections,
            feed,
            pusher,
        }
    }

    pub async fn from_env() -> Result<Self, BoxError> {
        let table = table_name("TABLE_NAME", crate::TABLE)?;
        let timeout = Duration::from_millis(optional("DOWNSTREAM_TIMEOUT_MS", 5000)?);
        let notification = base_url("NOTIFICATION_URL")?;
        let endpoint: Result<String, ConfigError> = required("WEBSOCKET_ENDPOINT");
        let dynamo = service_kit::dynamo::client_from_env().await;
        let signer = RequestSigner::from_env().await?;
        Ok(Self::new(
            Connections::new(dynamo, table),
            Downstream::new(
                &ServiceUrls::from([("notification", notification)]),
                timeout,
                signer,
            )?,
            Pusher::new(&endpoint?).await,
        ))
    }

    /// Pushes notification `seq` of `user_id` to the user's open connections.
    pub async fn fan_out(&self, user_id: &str, seq: u64) {
        let connections = match self.connections.of_user(user_id).await {
            Ok(connections) if !connections.is_empty() => connections,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot list connections");
                return;
            }
        };
        let events = match events_after(&self.feed, user_id, seq.saturating_sub(1)).await {
            Ok(events) => events,
            Err(problem) => {
                tracing::warn!(%problem, "cannot load the event");
                return;
            }
        };
        let Some(event) = events
            .into_iter()
            .find(|e| feed_id(&e.id) == Some(seq))
            .and_then(|e| serde_json::to_string(&e).ok())
        else {
            return;
        };
        let now = now_secs();
        for connection in connections {
            if connection.expires_at <= now {
                self.pusher.disconnect(&connection.id).await;
                let _ = self.connections.forget(&connection.id).await;
                continue;
            }
            if self.pusher.push(&connection.id, &event).await == Pushed::Gone {
                let _ = self.connections.forget(&connection.id).await;
            }
        }
    }
}

/// Closes every WebSocket connection of `user_id` (at logout).
pub async fn disconnect_user(connections: &Connections, pusher: &Pusher, user_id: &str) {
    match connections.of_user(user_id).await {
        Ok(open) => {
            for connection in open {
                pusher.disconnect(&connection.id).await;
                let _ = connections.forget(&connection.id).await;
            }
        }
        Err(error) => tracing::warn!(%error, "cannot list the connections to close"),
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
