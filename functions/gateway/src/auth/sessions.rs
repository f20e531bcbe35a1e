//! Refresh tokens, stored by their SHA-256 in the gateway's table and grouped in
//! families (one per login):
//! - `FAMILY#<id> / FAMILY`: the user and whether the family is still active;
//! - `REFRESH#<sha256> / REFRESH`: a token of the family, `active` until used once.
//!
//! Refreshing uses the token and issues its successor in one transaction that also
//! checks the family and the user's token version, so a token works once and none works
//! after the user signed out everywhere. Presenting a used token again means it was
//! stolen or replayed: the whole family is revoked. Logout revokes the family.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem, Update};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use service_kit::dynamo::{self, StoreError, is_condition_failure, n, s};
use sha2::{Digest, Sha256};

use crate::auth::now_secs;
use crate::auth::token_versions;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    family: String,
    user_id: String,
    status: String,
    expires_at: u64,
    /// The user's token version at login (absent in tokens issued before versions).
    #[serde(default)]
    version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The old token is spent; here is its successor, for this user at this token
    /// version.
    Rotated {
        user_id: String,
        token: String,
        version: u64,
    },
    /// Unknown, expired or revoked: log in again.
    Refused,
    /// Used before: the family is now revoked.
    Replayed,
}

pub struct Sessions {
    client: Client,
    table: String,
    ttl: Duration,
}

fn token_key(token: &str) -> (String, &'static str) {
    let hash = Sha256::digest(token.as_bytes());
    (format!("REFRESH#{}", hex(&hash)), "REFRESH")
}

fn family_key(family: &str) -> (String, &'static str) {
    (format!("FAMILY#{family}"), "FAMILY")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 244 random bits (two v4 UUIDs from the OS generator), URL-safe.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    pub fn new(client: Client, table: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            ttl,
        }
    }

    fn token_item(
        &self,
        token: &str,
        family: &str,
        user_id: &str,
        version: u64,
    ) -> Result<dynamo::Item, StoreError> {
        let (pk, sk) = token_key(token);
        let record = TokenRecord {
            family: family.to_owned(),
            user_id: user_id.to_owned(),
            status: "active".to_owned(),
            expires_at: now_secs() + self.ttl.as_secs(),
            version,
        };
        dynamo::to_item(&record, pk, sk)
    }

    /// Starts a family for a fresh login at the user's token `version` and returns its
    /// first refresh token.
    pub async fn start(&self, user_id: &str, version: u64) -> Result<String, StoreError> {
        let family = uuid::Uuid::new_v4().to_string();
        let token = new_token();
        let (pk, sk) = family_key(&family);
        let mut family_item = dynamo::key(pk, sk);
        family_item.insert("user_id".into(), s(user_id));
        family_item.insert("status".into(), s("active"));
        family_item.insert("expires_at".into(), n(now_secs() + self.ttl.as_secs()));
        let items = [
            dynamo::put_new(&self.table, family_item)?,
            dynamo::put_new(
                &self.table,
                self.token_item(&token, &family, user_id, version)?,
            )?,
        ];
        dynamo::transact(&self.client, &items).await?;
        Ok(token)
    }

    pub async fn refresh(&self, token: &str) -> Result<Refresh, StoreError> {
        let Some(record) = self.record(token).await? else {
            return Ok(Refresh::Refused);
        };
        let (pk, sk) = token_key(token);
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, sk)))
            .update_expression("SET #status = :used")
            .condition_expression("#status = :active AND expires_at > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":used", s("used"))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":now", n(now_secs()))
            .build()?;
        let (family_pk, family_sk) = family_key(&record.family);
        let family_active = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(family_pk, family_sk)))
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("active"))
            .build()?;
        // Signing out everywhere bumps the user's version: every login before is over.
        let version_current = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(token_versions::key(&record.user_id)))
            .condition_expression("attribute_not_exists(version) OR version = :version")
            .expression_attribute_values(":version", n(record.version))
            .build()?;
        let successor = new_token();
        let items = [
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder()
                .condition_check(family_active)
                .build(),
            TransactWriteItem::builder()
                .condition_check(version_current)
                .build(),
            dynamo::put_new(
                &self.table,
                self.token_item(&successor, &record.family, &record.user_id, record.version)?,
            )?,
        ];
        let result = dynamo::transact(&self.client, &items).await;
        match result {
            Ok(_) => Ok(Refresh::Rotated {
                user_id: record.user_id,
                token: successor,
                version: record.version,
            }),
            Err(error) => match dynamo::cancellation_reasons(&error) {
                Some(reasons) if reasons.iter().any(is_condition_failure) => {
                    self.refused(token, &record, is_condition_failure(&reasons[0]))
                        .await
                }
                _ => Err(error.into()),
            },
        }
    }

    /// Why a refresh's transaction was refused: a replay of a spent token (which revokes
    /// the whole login), or a token expired, revoked, or spent by a concurrent refresh
    /// just now.
    async fn refused(
        &self,
        token: &str,
        record: &TokenRecord,
        token_not_active: bool,
    ) -> Result<Refresh, StoreError> {
        let replayed = if token_not_active && record.status == "used" {
            true
        } else {
            matches!(
                self.record(token).await?,
                Some(now) if now.status == "used" && record.status == "active"
            )
        };
        if replayed {
            self.revoke_family(&record.family).await?;
            return Ok(Refresh::Replayed);
        }
        Ok(Refresh::Refused)
    }

    /// Logs out: the token's family can no longer be refreshed; the user whose it was.
    /// Unknown tokens are ignored (the answer must not tell whether a token existed).
    pub async fn revoke(&self, token: &str) -> Result<Option<String>, StoreError> {
        let Some(record) = self.record(token).await? else {
            return Ok(None);
        };
        self.revoke_family(&record.family).await?;
        Ok(Some(record.user_id))
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        let (pk, sk) = family_key(family);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, sk)))
            .update_expression("SET #status = :revoked")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":revoked", s("revoked"))
            .send()
            .await
            .map(|_| ())
            .or_else(|error| {
                if dynamo::failed_condition(&error) {
                    Ok(())
                } else {
                    Err(error.into())
                }
            })
    }

    async fn record(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        let (pk, sk) = token_key(token);
        dynamo::get_consistent(&self.client, &self.table, dynamo::key(pk, sk)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn tokens_are_stored_by_hash_only() {
        let (pk, _) = token_key("secret-token");
        assert!(!pk.contains("secret"));
        assert_eq!(pk.len(), "REFRESH#".len() + 64);
    }
}
