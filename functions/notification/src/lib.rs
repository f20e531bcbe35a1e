//! The notification service: a gap-free, ordered feed per user with idempotent
//! recording, catch-up after a cursor, read marks and an unread count, behind an
//! axum `Router` over a [`store::NotificationStore`].

pub mod domain;
pub mod http;
pub mod operations;
pub mod store;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use axum::Router;
use service_kit::config::ServiceConfig;
use service_kit::failure::{self, FailureSwitch};

/// The owner name of this service's table in `infra/tables.json`.
pub const TABLE: &str = "notifications";

/// The whole service over DynamoDB.
pub fn router(client: Client, config: &ServiceConfig) -> Router {
    let store = store::NotificationStore::new(client.clone(), &config.table_name);
    let switch = FailureSwitch::new(client, config, "notification");
    failure::guarded(http::routes(Arc::new(store)), Arc::new(switch))
}
