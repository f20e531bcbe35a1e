//! Login attempts per account, after OWASP's device cookies ("Slow Down Online Guessing
//! Attacks with Device Cookies"): next to the limit per client address, because an
//! attacker has many addresses, and without locking the owner out, because an attacker
//! who knows an email could otherwise keep its owner out forever.
//!
//! - A browser that has signed in to an account holds a device cookie for it (random,
//!   stored hashed) and has an allowance of its own: [`KNOWN_DEVICE`].
//! - Every other client shares one allowance per account: [`UNTRUSTED`], so that from any
//!   number of addresses an attacker gets at most 10 guesses per account in any hour.
//! - An email without an account has an allowance like any other, so the answers do not
//!   tell which emails exist.
//!
//! Each allowance is a GCRA bucket: one number per bucket, its theoretical arrival time
//! (`tat`, seconds). An attempt is reserved *before* the password is checked, with a
//! conditional update that moves `tat` forward only while the bucket has room; DynamoDB
//! applies the updates of one item one at a time, so a burst of concurrent guesses gets
//! exactly the room there is. A wrong password keeps its reservation; a right one (and
//! an attempt whose password could not be checked) gives it back.
//!
//! Items, in the gateway's table, under `LOGIN#<SHA-256 of the lowercased email>`:
//! - `UNTRUSTED`: `tat`, `expires_at` (DynamoDB TTL, once the bucket is full again);
//! - `DEVICE#<SHA-256 of the cookie's token>`: `tat` and `expires_at`, the device's
//!   lifetime, renewed at each sign-in from it.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use service_kit::dynamo::{self, Conditional, Item, StoreError, n};
use sha2::{Digest, Sha256};

/// How many attempts a bucket lets through at once, and how fast it refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub burst: u32,
    /// One more attempt each time this passes.
    pub every: Duration,
}

impl Allowance {
    /// The latest `tat` that still admits one more attempt at `now`.
    fn limit(self, now: u64) -> u64 {
        now + u64::from(self.burst.saturating_sub(1)) * self.every.as_secs()
    }
}

/// Shared by every client without a device cookie of the account: 5 at once, then one
/// every 12 minutes, so never more than 10 in any hour.
pub const UNTRUSTED: Allowance = Allowance {
    burst: 5,
    every: Duration::from_secs(12 * 60),
};

/// Each browser that signed in to the account before: its owner's typos stay its own.
pub const KNOWN_DEVICE: Allowance = Allowance {
    burst: 10,
    every: Duration::from_secs(6 * 60),
};

/// How long a device stays known after its last sign-in.
pub const DEVICE_LIFETIME: Duration = Duration::from_secs(180 * 24 * 3600);

/// Conditional updates that lose a race to another attempt are retried this often.
const RACES: usize = 4;

/// Where a login attempt was counted, to give it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    account: String,
    /// The device's token, when the attempt came from a known device.
    device: Option<String>,
}

impl Attempt {
    pub fn from_known_device(&self) -> bool {
        self.device.is_some()
    }
}

/// The answer to a login attempt before its password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    Granted(Attempt),
    /// The bucket is empty: the next attempt has room after this long.
    Wait(Duration),
}

pub struct LoginThrottle {
    client: Client,
    table: String,
}

/// The account an email names, whatever its case: the email is not stored in clear.
fn email_digest(email: &str) -> String {
    hex(&Sha256::digest(email.trim().to_lowercase().as_bytes()))
}

/// The partition of an account's buckets.
fn account(email: &str) -> String {
    format!("LOGIN#{}", email_digest(email))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn device_key(account: &str, token: &str) -> Item {
    dynamo::key(
        account,
        format!("DEVICE#{}", hex(&Sha256::digest(token.as_bytes()))),
    )
}

/// The name of the device cookie for `email`: one per account, so that a browser that
/// signs in to several accounts stays known to each.
pub fn device_cookie_name(email: &str) -> String {
    format!("login_device_{}", &email_digest(email)[..16])
}

/// 244 random bits (two v4 UUIDs from the OS generator), URL-safe.
fn new_device_token() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One bucket of login attempts.
enum Bucket {
    /// The account's, shared by every client without a known device.
    Shared(Item),
    /// One known device's.
    Device(Item),
}

impl Bucket {
    fn key(&self) -> Item {
        match self {
            Self::Shared(key) | Self::Device(key) => key.clone(),
        }
    }

    fn allowance(&self) -> Allowance {
        match self {
            Self::Shared(_) => UNTRUSTED,
            Self::Device(_) => KNOWN_DEVICE,
        }
    }
}

enum Taken {
    Granted,
    /// No room: the next attempt has room after this long.
    Empty(Duration),
    /// No bucket for this device: not known to the account (or no longer).
    UnknownDevice,
}

/// What a refused conditional update found.
enum Found {
    Nothing,
    Bucket {
        tat: Option<u64>,
        expires_at: Option<u64>,
    },
}

impl LoginThrottle {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Reserves one login attempt of `email` at `now` (seconds): from the allowance of
    /// the device whose cookie holds `device_token` when the device is known to this
    /// account, else from the account's shared one. A known device whose own allowance is
    /// spent waits (it does not fall back on the shared one).
    pub async fn reserve(
        &self,
        email: &str,
        device_token: Option<&str>,
        now: u64,
    ) -> Result<Reservation, StoreError> {
        let account = account(email);
        if let Some(token) = device_token {
            let bucket = Bucket::Device(device_key(&account, token));
            match self.take(&bucket, now).await? {
                Taken::Granted => {
                    return Ok(Reservation::Granted(Attempt {
                        account,
                        device: Some(token.to_owned()),
                    }));
                }
                Taken::Empty(wait) => return Ok(Reservation::Wait(wait)),
                Taken::UnknownDevice => {}
            }
        }
        let bucket = Bucket::Shared(dynamo::key(account.as_str(), "UNTRUSTED"));
        Ok(match self.take(&bucket, now).await? {
            Taken::Granted => Reservation::Granted(Attempt {
                account,
                device: None,
            }),
            Taken::Empty(wait) => Reservation::Wait(wait),
            // Only a device's bucket can be unknown: the shared one is made on demand.
            Taken::UnknownDevice => Reservation::Wait(Duration::from_secs(1)),
        })
    }

    /// Takes one attempt from `bucket` at `now`, in at most two conditional updates
    /// (more only when other attempts move the bucket in between).
    async fn take(&self, bucket: &Bucket, now: u64) -> Result<Taken, StoreError> {
        let allowance = bucket.allowance();
        let every = allowance.every.as_secs();
        let limit = allowance.limit(now);
        // A device's bucket exists only while the device is known; the shared one is
        // forgotten (TTL) once it is full again.
        let (known, keep) = match bucket {
            Bucket::Device(_) => ("attribute_exists(pk) AND expires_at > :now AND ", ""),
            Bucket::Shared(_) => ("", ", expires_at = :expires"),
        };
        for _ in 0..RACES {
            // Room left, queue not empty: one more attempt in the queue.
            let queued = self
                .update(bucket.key())
                .update_expression(format!("SET tat = tat + :every{keep}"))
                .condition_expression(format!("{known}tat BETWEEN :now AND :limit"))
                .expression_attribute_values(":every", n(every))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":limit", n(limit));
            let queued = match bucket {
                Bucket::Shared(_) => {
                    queued.expression_attribute_values(":expires", n(limit + every))
                }
                Bucket::Device(_) => queued,
            };
            let device = matches!(bucket, Bucket::Device(_));
            match refused(queued.send().await)? {
                None => return Ok(Taken::Granted),
                Some(Found::Nothing) if device => return Ok(Taken::UnknownDevice),
                Some(_) => {}
            }
            // A full bucket (new, or idle long enough): its queue starts now.
            let restarted = self
                .update(bucket.key())
                .update_expression(format!("SET tat = :next{keep}"))
                .condition_expression(format!("{known}(attribute_not_exists(tat) OR tat < :now)"))
                .expression_attribute_values(":next", n(now + every))
                .expression_attribute_values(":now", n(now));
            let restarted = match bucket {
                Bucket::Shared(_) => {
                    restarted.expression_attribute_values(":expires", n(now + 2 * every))
                }
                Bucket::Device(_) => restarted,
            };
            match refused(restarted.send().await)? {
                None => return Ok(Taken::Granted),
                Some(Found::Nothing) if device => return Ok(Taken::UnknownDevice),
                Some(Found::Bucket { expires_at, .. }) if device && expires_at <= Some(now) => {
                    return Ok(Taken::UnknownDevice);
                }
                Some(Found::Bucket { tat: Some(tat), .. }) if tat > limit => {
                    return Ok(Taken::Empty(Duration::from_secs(tat - limit)));
                }
                // Another attempt moved the bucket between our two updates: again.
                Some(_) => {}
            }
        }
        // Losing every race means a burst of attempts on this account: it can wait.
        Ok(Taken::Empty(Duration::from_secs(1)))
    }

    /// An update of `key` that, refused, tells what it found.
    fn update(&self, key: Item) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// Gives a reserved attempt back: the password was right, or could not be checked.
    pub async fn give_back(&self, attempt: &Attempt) -> Result<(), StoreError> {
        let bucket = match &attempt.device {
            Some(token) => Bucket::Device(device_key(&attempt.account, token)),
            None => Bucket::Shared(dynamo::key(attempt.account.as_str(), "UNTRUSTED")),
        };
        let result = self
            .update(bucket.key())
            .update_expression("SET tat = tat - :every")
            .condition_expression("attribute_exists(tat)")
            .expression_attribute_values(":every", n(bucket.allowance().every.as_secs()))
            .send()
            .await;
        // A bucket already gone (its TTL passed) has nothing to give back to.
        refused(result).map(|_| ())
    }

    /// After a sign-in at `now`: the device token the browser keeps for this account,
    /// the one it presented when its device was known (its lifetime renewed, its
    /// allowance full again), else a new one.
    pub async fn trust_device(&self, attempt: &Attempt, now: u64) -> Result<String, StoreError> {
        let token = attempt.device.clone().unwrap_or_else(new_device_token);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(device_key(&attempt.account, &token)))
            .update_expression("SET expires_at = :expires REMOVE tat")
            .expression_attribute_values(":expires", n(now + DEVICE_LIFETIME.as_secs()))
            .send()
            .await?;
        Ok(token)
    }
}

/// `None` when the update was applied; what the item held when its condition failed.
fn refused(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError>>,
) -> Result<Option<Found>, StoreError> {
    let item = match dynamo::conditional(result)? {
        Conditional::Applied(_) => return Ok(None),
        Conditional::Refused(item) => item,
    };
    let Some(item) = item else {
        return Ok(Some(Found::Nothing));
    };
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
    };
    Ok(Some(Found::Bucket {
        tat: number("tat"),
        expires_at: number("expires_at"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_allowance_admits_at_most_ten_attempts_in_any_hour() {
        // A full bucket, then one more each time `every` passes.
        let hour = 3600 / UNTRUSTED.every.as_secs();
        assert_eq!(u64::from(UNTRUSTED.burst) + hour, 10);
        assert_eq!(UNTRUSTED.limit(1000), 1000 + 4 * 720);
    }

    #[test]
    fn an_email_is_one_account_whatever_its_case() {
        assert_eq!(account("Ada@Example.com "), account("ada@example.com"));
        assert_ne!(account("ada@example.com"), account("bob@example.com"));
        assert_eq!(
            device_cookie_name("Ada@Example.com"),
            device_cookie_name("ada@example.com")
        );
        assert_ne!(
            device_cookie_name("ada@example.com"),
            device_cookie_name("bob@example.com")
        );
    }

    #[test]
    fn a_device_is_known_only_to_its_account_and_stored_hashed() {
        let token = new_device_token();
        let key = device_key(&account("ada@example.com"), &token);
        let sort_key = key["sk"].as_s().expect("a string key");
        assert!(!sort_key.contains(&token));
        assert_ne!(key, device_key(&account("bob@example.com"), &token));
        assert_ne!(token, new_device_token());
    }
}
