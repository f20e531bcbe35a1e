//! The payment service: one charge and at most one refund per order on a readable
//! ledger, through a simulated provider whose test cards behave deterministically,
//! behind an axum `Router` over a [`store::PaymentStore`] and a [`provider::Provider`].

pub mod domain;
pub mod http;
pub mod operations;
pub mod provider;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use axum::Router;
use service_kit::config::ServiceConfig;
use service_kit::failure::{self, FailureSwitch};

/// The owner name of this service's table in `infra/tables.json`.
pub const TABLE: &str = "payments";

/// The whole service over DynamoDB; `card_slow` takes `slow_delay`.
pub fn router(client: Client, config: &ServiceConfig, slow_delay: Duration) -> Router {
    let store = store::PaymentStore::new(client.clone(), &config.table_name);
    let provider = provider::Provider::simulated(client.clone(), &config.table_name, slow_delay);
    let switch = FailureSwitch::new(client, config, "payment").with_decline();
    let state = http::PaymentState { store, provider };
    failure::guarded(http::routes(Arc::new(state)), Arc::new(switch))
}
