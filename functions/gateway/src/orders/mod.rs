//! Orders: the `/v1/orders` routes and the decisions on them (a customer's
//! cancellation, a reviewer's approval or rejection), the idempotency keys that make
//! a retried checkout one order, and the Temporal client that starts and asks the
//! saga.

pub mod decisions;
pub mod keys;
pub mod routes;
pub mod saga;

use aws_sdk_dynamodb::Client;

use crate::client_ip::TrustedProxies;
use crate::config::GatewayConfig;
use crate::ratelimit::RateLimiter;
use keys::OrderKeys;
use saga::Sagas;

/// The gateway's part for orders.
pub struct Orders {
    pub sagas: Sagas,
    pub keys: OrderKeys,
    /// Orders per customer (principal `orders:<user id>`), apart from requests.
    pub limiter: RateLimiter,
}

impl Orders {
    pub fn new(config: &GatewayConfig, dynamo: &Client, sagas: Sagas) -> Self {
        Self {
            sagas,
            keys: OrderKeys::new(dynamo.clone(), &config.table),
            limiter: RateLimiter::new(
                dynamo.clone(),
                &config.rate_limit_table,
                config.order_rate,
                TrustedProxies::None,
            ),
        }
    }
}
