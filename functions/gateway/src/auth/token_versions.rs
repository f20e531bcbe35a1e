//! A version per user that every token this gateway issues carries (`ver` in access
//! tokens, and the login family of refresh tokens): signing out everywhere bumps it, and
//! with it every access token and every login issued before stops working at once,
//! whatever device holds them. One item per user in the gateway's table:
//! `USER#<user id> / TOKENS` with `version` (absent: 0).
//!
//! Access tokens are checked on every request, so each instance keeps the versions it
//! read for [`CACHE_TTL`]: a bump is seen at once by the instance that made it, and
//! within that time by the others. When the version cannot be read, the request is
//! refused (503), never let through on a token that may have been revoked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use service_kit::dynamo::{self, Item, StoreError, n};

/// How long an instance trusts a version it read.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// Instances remember the versions of this many users at most.
const MAX_CACHED: usize = 10_000;

pub struct TokenVersions {
    client: Client,
    table: String,
    cached: Mutex<HashMap<String, (u64, Instant)>>,
}

/// The item holding `user_id`'s version.
pub fn key(user_id: &str) -> Item {
    dynamo::key(format!("USER#{user_id}"), "TOKENS")
}

fn version_of(item: Option<&Item>) -> Result<u64, StoreError> {
    match item.and_then(|item| item.get("version")) {
        None => Ok(0),
        Some(value) => value
            .as_n()
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt("a token version that is no number".into())),
    }
}

impl TokenVersions {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            cached: Mutex::new(HashMap::new()),
        }
    }

    /// `user_id`'s current version, from this instance's cache when fresh.
    pub async fn current(&self, user_id: &str) -> Result<u64, StoreError> {
        if let Some((version, read_at)) = self.lock().get(user_id).copied()
            && read_at.elapsed() < CACHE_TTL
        {
            return Ok(version);
        }
        self.read(user_id).await
    }

    /// `user_id`'s current version, read now: what a new token is issued at.
    pub async fn read(&self, user_id: &str) -> Result<u64, StoreError> {
        let item = dynamo::get_item_consistent(&self.client, &self.table, key(user_id)).await?;
        let version = version_of(item.as_ref())?;
        self.remember(user_id, version);
        Ok(version)
    }

    /// Revokes every token of `user_id` issued so far; the new version.
    pub async fn bump(&self, user_id: &str) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_id)))
            .update_expression("ADD version :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await?;
        let version = version_of(output.attributes.as_ref())?;
        self.remember(user_id, version);
        Ok(version)
    }

    fn remember(&self, user_id: &str, version: u64) {
        let mut cached = self.lock();
        if cached.len() >= MAX_CACHED {
            cached.retain(|_, (_, read_at)| read_at.elapsed() < CACHE_TTL);
        }
        cached.insert(user_id.to_owned(), (version, Instant::now()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Instant)>> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }
}
