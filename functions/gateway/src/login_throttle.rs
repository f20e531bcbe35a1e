//! Failed logins per account, next to the limit per client address: behind a proxy
//! every anonymous client may share one address, so guessing one account's password
//! must be slowed down on the account itself, without locking anybody else out.
//!
//! After [`FREE_FAILURES`] failures in a row, each further login of the account waits
//! a backoff that doubles with every failure, up to [`MAX_LOCK`]; a success resets it.
//! The same holds for an email that has no account, so the answers do not tell which
//! emails exist. One item per email, in the gateway's table:
//! `LOGIN#<SHA-256 of the lowercased email> / FAILURES` with `failures`,
//! `last_failure_at` and `expires_at` (a day after the last failure, DynamoDB TTL).
//! Failures are counted with an atomic `ADD`, so concurrent guesses all count.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use service_kit::dynamo::{self, StoreError, n};
use sha2::{Digest, Sha256};

use crate::auth::now_secs;

/// Failures allowed before logins of the account are slowed down.
pub const FREE_FAILURES: u32 = 4;
/// The longest wait between two logins of an account that keeps failing.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// How long a failure counts after the last one.
const MEMORY: Duration = Duration::from_secs(24 * 3600);

/// How long logins of an account wait after its `failures`-th failure in a row.
pub fn lock_after(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None | Some(0) => Duration::ZERO,
        Some(extra) => Duration::from_secs(1u64 << extra.min(20)).min(MAX_LOCK),
    }
}

pub struct LoginThrottle {
    client: Client,
    table: String,
}

fn key(email: &str) -> dynamo::Item {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    dynamo::key(format!("LOGIN#{hex}"), "FAILURES")
}

impl LoginThrottle {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// How long the account of `email` must still wait before its next login.
    pub async fn wait(&self, email: &str) -> Result<Duration, StoreError> {
        let output = dynamo::get_item_consistent(&self.client, &self.table, key(email)).await?;
        let Some(item) = output else {
            return Ok(Duration::ZERO);
        };
        let number = |name: &str| -> u64 {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        };
        let failures = u32::try_from(number("failures")).unwrap_or(u32::MAX);
        let until = number("last_failure_at") + lock_after(failures).as_secs();
        Ok(Duration::from_secs(until.saturating_sub(now_secs())))
    }

    pub async fn failed(&self, email: &str) -> Result<(), StoreError> {
        let now = now_secs();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(email)))
            .update_expression(
                "ADD failures :one SET last_failure_at = :now, expires_at = :expires",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":expires", n(now + MEMORY.as_secs()))
            .send()
            .await?;
        Ok(())
    }

    pub async fn succeeded(&self, email: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(email)))
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_failures_up_to_the_maximum() {
        for failures in 0..=FREE_FAILURES {
            assert_eq!(lock_after(failures), Duration::ZERO, "{failures}");
        }
        assert_eq!(lock_after(FREE_FAILURES + 1), Duration::from_secs(2));
        assert_eq!(lock_after(FREE_FAILURES + 2), Duration::from_secs(4));
        assert_eq!(lock_after(FREE_FAILURES + 3), Duration::from_secs(8));
        assert_eq!(lock_after(FREE_FAILURES + 30), MAX_LOCK);
        assert_eq!(lock_after(u32::MAX), MAX_LOCK);
    }

    #[test]
    fn an_email_is_one_account_whatever_its_case() {
        assert_eq!(key("Ada@Example.com "), key("ada@example.com"));
        assert_ne!(key("ada@example.com"), key("bob@example.com"));
    }
}
