//! The order service: orders created idempotently by id, moved through a guarded
//! state machine with their history, and listed per customer, behind an axum
//! `Router` over a [`store::OrderStore`].

pub mod domain;
pub mod http;
pub mod operations;
pub mod store;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use axum::Router;
use service_kit::config::{self, ConfigError, ServiceConfig};
use service_kit::failure::{self, FailureSwitch};
pub use store::CustomerLimits;

/// The owner name of this service's table in `infra/tables.json`.
pub const TABLE: &str = "orders";

/// The whole service over DynamoDB.
pub fn router(client: Client, config: &ServiceConfig, limits: CustomerLimits) -> Router {
    let store = store::OrderStore::new(client.clone(), &config.table_name);
    let switch = FailureSwitch::new(client, config, "order");
    failure::guarded(
        http::routes(http::Orders { store, limits }),
        Arc::new(switch),
    )
}

/// How far each customer's open orders may go: `OPEN_ORDERS_PER_CUSTOMER` (default
/// 10) and `HELD_UNITS_PER_CUSTOMER` (default 500). Each open order may hold stock,
/// for as long as a review lasts, and runs a saga.
pub fn limits_from_env() -> Result<CustomerLimits, ConfigError> {
    let default = CustomerLimits::default();
    let limits = CustomerLimits {
        open_orders: config::optional("OPEN_ORDERS_PER_CUSTOMER", default.open_orders)?,
        held_units: config::optional("HELD_UNITS_PER_CUSTOMER", default.held_units)?,
    };
    if limits.open_orders == 0 || limits.held_units == 0 {
        return Err(ConfigError::new(
            "OPEN_ORDERS_PER_CUSTOMER and HELD_UNITS_PER_CUSTOMER must be at least 1",
        ));
    }
    Ok(limits)
}
