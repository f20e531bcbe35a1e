//! Who is calling: access tokens and the middleware that checks them, refresh
//! sessions, signing out everywhere, the login throttle, and the one-time tickets that
//! open an event stream.

pub mod login_throttle;
pub mod sessions;
pub mod tickets;
pub mod token_versions;
mod tokens;

pub use tokens::{
    AccessToken, Admin, AuthError, AuthUser, Role, Tokens, authenticate, now_secs, unauthorized,
};

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;

use crate::config::GatewayConfig;
use login_throttle::LoginThrottle;
use sessions::Sessions;
use tickets::Tickets;
use token_versions::TokenVersions;

/// The gateway's part for authentication.
pub struct Auth {
    pub tokens: Arc<Tokens>,
    pub sessions: Sessions,
    pub login_throttle: LoginThrottle,
    /// Every token of a user carries its version: signing out everywhere bumps it.
    pub token_versions: TokenVersions,
    pub tickets: Tickets,
}

impl Auth {
    pub async fn new(config: &GatewayConfig, dynamo: &Client) -> Result<Self, reqwest::Error> {
        let jwks_http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            tokens: Arc::new(Tokens::new(config.jwt.clone(), jwks_http).await),
            sessions: Sessions::new(dynamo.clone(), &config.table, config.jwt.refresh_ttl),
            login_throttle: LoginThrottle::new(dynamo.clone(), &config.table),
            token_versions: TokenVersions::new(dynamo.clone(), &config.table),
            tickets: Tickets::new(dynamo.clone(), &config.table),
        })
    }
}
