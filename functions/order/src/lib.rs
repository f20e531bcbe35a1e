//! The order service: orders created idempotently by id, moved through a guarded
//! state machine with their history, and listed per customer, behind an axum
//! `Router` over a [`store::DynamoOrderStore`].

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
pub const TABLE: &str = "orders";

/// The whole service over DynamoDB.
pub fn router(client: Client, config: &ServiceConfig) -> Router {
    let store = store::DynamoOrderStore::new(client.clone(), &config.table_name);
    let switch = FailureSwitch::new(client, config, "order");
    failure::guarded(http::routes(Arc::new(store)), Arc::new(switch))
}
