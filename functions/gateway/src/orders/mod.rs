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
use crate::config::{GatewayConfig, RateLimitConfig};
use crate::operations::MAX_BATCH_ORDERS;
use crate::ratelimit::RateLimiter;
use keys::OrderKeys;
use saga::Sagas;

/// The gateway's part for orders.
pub struct Orders {
    pub sagas: Sagas,
    pub keys: OrderKeys,
    /// Orders per customer (principal `orders:<user id>`), apart from requests.
    pub limiter: RateLimiter,
    /// The load generator's orders, all runs and instances together (principal
    /// [`LOAD_PRINCIPAL`]): one full batch a second, whatever the number of runs.
    pub load_limiter: RateLimiter,
}

/// The load generator's principal in the rate limit table.
pub const LOAD_PRINCIPAL: &str = "load-generator";

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
            load_limiter: RateLimiter::new(
                dynamo.clone(),
                &config.rate_limit_table,
                RateLimitConfig {
                    per_minute: MAX_BATCH_ORDERS * 60,
                    burst: MAX_BATCH_ORDERS,
                    lease: MAX_BATCH_ORDERS / 2,
                },
                TrustedProxies::None,
            ),
        }
    }
}
