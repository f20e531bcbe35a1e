//! The customer service: accounts with a unique, normalised email, an argon2 password
//! hash and a role, behind an axum `Router` over a [`store::CustomerStore`].

pub mod accounts;
pub mod domain;
pub mod http;
pub mod store;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use axum::Router;
use service_kit::config::ServiceConfig;
use service_kit::failure::{self, FailureSwitch};

/// The owner name of this service's table in `infra/tables.json`.
pub const TABLE: &str = "customers";

/// The whole service over DynamoDB.
pub fn router(client: Client, config: &ServiceConfig) -> Router {
    let store = store::CustomerStore::new(client.clone(), &config.table_name);
    let switch = FailureSwitch::new(client, config, "customer");
    failure::guarded(http::routes(Arc::new(store)), Arc::new(switch))
}
