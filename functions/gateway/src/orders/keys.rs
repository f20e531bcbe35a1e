//! What each `Idempotency-Key` names, and whose each order is, in the gateway's table:
//! - `IDEMPOTENCY#<user>#<key> / REQUEST`: the order the key named and the fingerprint
//!   of the request that first used it, kept [`KEY_TTL`] (DynamoDB TTL), far longer
//!   than any client retries;
//! - `ORDER#<order id> / OWNER`: the customer who placed it, kept for good, so that
//!   the owner is checked before anything about the order is asked of a service or of
//!   Temporal.
//!
//! Both are written together, once, in one transaction conditional on neither
//! existing: the first request with a key claims it, whatever the concurrency.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use service_kit::dynamo::{self, StoreError, is_condition_failure, n, s};
use sha2::{Digest, Sha256};

use crate::auth::now_secs;

/// How long a key remembers the request that first used it (the IETF draft asks for
/// at least 24 hours).
pub const KEY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a request's key says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The first request with this key.
    New,
    /// The same request again (or a key old enough that its fingerprint is gone): it
    /// names the same order.
    Repeat,
    /// The key was first used for a different request.
    Reused,
}

pub struct OrderKeys {
    client: Client,
    table: String,
}

/// A digest of what a request asks for: the quantity of each product and the payment
/// method. Line order and splitting do not change it.
pub fn fingerprint(quantities: &BTreeMap<String, u32>, payment_method: &str) -> String {
    let mut digest = Sha256::new();
    for (sku, quantity) in quantities {
        // SKUs are ids (no newline), so the lines cannot run into each other.
        digest.update(format!("{sku}\n{quantity}\n"));
    }
    digest.update(format!("method\n{payment_method}"));
    digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_of(user_id: &str, key: &str) -> (String, &'static str) {
    (format!("IDEMPOTENCY#{user_id}#{key}"), "REQUEST")
}

fn owner_of(order_id: &str) -> (String, &'static str) {
    (format!("ORDER#{order_id}"), "OWNER")
}

impl OrderKeys {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Claims `key` of `user_id` for `order_id` and a request with `fingerprint`.
    pub async fn claim(
        &self,
        user_id: &str,
        key: &str,
        order_id: &str,
        fingerprint: &str,
    ) -> Result<Claim, StoreError> {
        let (pk, sk) = key_of(user_id, key);
        let mut request = dynamo::key(pk, sk);
        request.insert("order_id".into(), s(order_id));
        request.insert("fingerprint".into(), s(fingerprint));
        request.insert("expires_at".into(), n(now_secs() + KEY_TTL.as_secs()));
        let (pk, sk) = owner_of(order_id);
        let mut owner = dynamo::key(pk, sk);
        owner.insert("user_id".into(), s(user_id));
        let items = [
            dynamo::put_new(&self.table, request)?,
            dynamo::put_new(&self.table, owner)?,
        ];
        let result = dynamo::transact(&self.client, &items).await;
        let error = match result {
            Ok(_) => return Ok(Claim::New),
            Err(error) => error,
        };
        match dynamo::cancellation_reasons(&error) {
            Some([key_taken, ..]) if is_condition_failure(key_taken) => {
                match self.fingerprint_of(user_id, key).await? {
                    Some(first) if first != fingerprint => Ok(Claim::Reused),
                    _ => Ok(Claim::Repeat),
                }
            }
            // Only the owner exists: the key's record has expired; the order id, derived
            // from the same key, still names the same order.
            Some(reasons) if reasons.iter().any(is_condition_failure) => Ok(Claim::Repeat),
            _ => Err(error.into()),
        }
    }

    async fn fingerprint_of(&self, user_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (pk, sk) = key_of(user_id, key);
        let output =
            dynamo::get_item_consistent(&self.client, &self.table, dynamo::key(pk, sk)).await?;
        Ok(output.and_then(|item| item.get("fingerprint")?.as_s().ok().cloned()))
    }

    /// Who placed `order_id`, if it was placed through this gateway.
    pub async fn owner(&self, order_id: &str) -> Result<Option<String>, StoreError> {
        let (pk, sk) = owner_of(order_id);
        let output =
            dynamo::get_item_consistent(&self.client, &self.table, dynamo::key(pk, sk)).await?;
        Ok(output.and_then(|item| item.get("user_id")?.as_s().ok().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantities(lines: &[(&str, u32)]) -> BTreeMap<String, u32> {
        lines
            .iter()
            .map(|(sku, q)| ((*sku).to_owned(), *q))
            .collect()
    }

    #[test]
    fn the_fingerprint_is_what_is_asked_for_not_how() {
        let a = fingerprint(&quantities(&[("MUG", 2), ("TEA", 1)]), "card_approve");
        let b = fingerprint(&quantities(&[("TEA", 1), ("MUG", 2)]), "card_approve");
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint(&quantities(&[("MUG", 3), ("TEA", 1)]), "card_approve")
        );
        assert_ne!(
            a,
            fingerprint(&quantities(&[("MUG", 2), ("TEA", 1)]), "card_decline")
        );
        assert_ne!(
            fingerprint(&quantities(&[("MUG", 21)]), "m"),
            fingerprint(&quantities(&[("MUG2", 1)]), "m")
        );
    }
}
