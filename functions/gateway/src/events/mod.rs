//! Real-time order events: the `/v1/events` routes (a WebSocket, or the AWS WebSocket
//! API's events), the connections recorded for them, the streams this instance serves,
//! and the fan-out that pushes through the AWS WebSocket API.

pub mod connections;
pub mod fanout;
pub mod routes;
pub mod sockets;

use aws_sdk_dynamodb::Client;

use crate::config::GatewayConfig;
use connections::Connections;
use fanout::Pusher;
use sockets::LocalSockets;

/// The gateway's part for events.
pub struct Events {
    pub connections: Connections,
    /// The event streams this instance serves itself.
    pub sockets: LocalSockets,
    /// The AWS WebSocket API's management endpoint, where configured
    /// (`WEBSOCKET_ENDPOINT`): to close a user's connections at logout.
    pub pusher: Option<Pusher>,
}

impl Events {
    pub async fn new(config: &GatewayConfig, dynamo: &Client) -> Self {
        Self {
            connections: Connections::new(dynamo.clone(), &config.table),
            sockets: LocalSockets::default(),
            pusher: match &config.websocket_endpoint {
                Some(endpoint) => Some(Pusher::new(endpoint).await),
                None => None,
            },
        }
    }
}
