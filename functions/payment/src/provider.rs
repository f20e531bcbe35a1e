//! The payment provider (PSP) seam, and the simulated provider behind it.
//!
//! A real PSP client would replace [`Provider`] with the same two calls, `charge` and
//! `void`, both keyed by an idempotency key (the order id). Like a real PSP, the
//! simulator keeps one outcome per key and answers every later call with that key from
//! it, so a caller that lost an answer can ask again without being charged twice. Its
//! memory is in the payment service's own table, under `PROVIDER#<key>`:
//! - `OUTCOME`: the key's one outcome (approved, declined or voided), written by a
//!   conditional put, so of two concurrent calls with one key one decides and the
//!   other gets its decision;
//! - `ATTEMPTS`: how often a charge with the key reached the provider undecided, which
//!   the transiently failing test cards count (the key is the order id, so per order).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use serde::{Deserialize, Serialize};
use service_kit::dynamo::{self, Inserted, StoreError, n};

use crate::domain::{PaymentMethod, ProviderCharge, ProviderOutcome};

const OUTCOME: &str = "OUTCOME";
const ATTEMPTS: &str = "ATTEMPTS";

fn provider_pk(key: &str) -> String {
    format!("PROVIDER#{key}")
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider turned the call away: it charged nothing and recorded nothing for
    /// the key. Asking again later is safe.
    #[error("the payment provider is temporarily unavailable")]
    Unavailable,
    /// Whether the call took effect is unknown (for the simulator: its own storage
    /// failed). Asking again with the key finds out.
    #[error(transparent)]
    Unknown(#[from] StoreError),
}

/// The simulated provider, whose test cards behave deterministically.
#[derive(Clone)]
pub struct Provider {
    client: Client,
    table: Arc<str>,
    /// How long `card_slow` takes.
    slow_delay: Duration,
    /// The payment service's `decline` failure mode: new charges are declined.
    declining: bool,
}

/// What the provider keeps per key.
#[derive(Serialize, Deserialize)]
struct StoredOutcome {
    key: String,
    outcome: ProviderOutcome,
    recorded_at: String,
}

impl Provider {
    /// The simulator, keeping its memory in `table`.
    pub fn simulated(client: Client, table: &str, slow_delay: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            slow_delay,
            declining: false,
        }
    }

    /// The same provider, declining every charge it has not decided yet while
    /// `declining` (keys already decided keep their outcome).
    pub fn declining(&self, declining: bool) -> Self {
        Self {
            declining,
            ..self.clone()
        }
    }

    /// Charges `amount` once under `key`. A key that already has an outcome gets it
    /// back, whatever the other arguments say: the same key, the same outcome.
    /// `asked_before`: the caller may have charged with this key before, so the outcome
    /// is looked up first, which saves counting an attempt (and waiting, for
    /// `card_slow`) when it is known; either way the conditional put in `record` is what
    /// makes the outcome unique.
    pub async fn charge(
        &self,
        key: &str,
        amount: u64,
        currency: &str,
        method: PaymentMethod,
        asked_before: bool,
    ) -> Result<ProviderOutcome, ProviderError> {
        if asked_before && let Some(outcome) = self.outcome(key).await? {
            return Ok(outcome);
        }
        let attempt = match method {
            PaymentMethod::Transient(_) => self.count_attempt(key).await?,
            _ => 1,
        };
        let charge = || ProviderCharge {
            id: format!("ch_{}", uuid::Uuid::new_v4().simple()),
            amount,
            currency: currency.to_owned(),
            method,
        };
        let outcome = match decide(method, attempt, self.declining, self.slow_delay) {
            SimulatedVerdict::Approve => ProviderOutcome::Approved { charge: charge() },
            SimulatedVerdict::ApproveAfter(delay) => {
                // Processing takes the delay; a void that lands meanwhile wins.
                tokio::time::sleep(delay).await;
                ProviderOutcome::Approved { charge: charge() }
            }
            SimulatedVerdict::Decline(reason) => ProviderOutcome::Declined {
                charge: charge(),
                reason,
            },
            SimulatedVerdict::Unavailable => return Err(ProviderError::Unavailable),
        };
        Ok(self.record(key, outcome).await?)
    }

    /// Voids `key` if nothing was decided under it yet, so that every later charge
    /// with it answers `Voided`; returns the key's outcome, which is the charge's when
    /// one was decided first.
    pub async fn void(&self, key: &str) -> Result<ProviderOutcome, StoreError> {
        self.record(key, ProviderOutcome::Voided).await
    }

    /// The key's outcome, if it has one.
    pub async fn outcome(&self, key: &str) -> Result<Option<ProviderOutcome>, StoreError> {
        let output = dynamo::get_item_consistent(
            &self.client,
            &self.table,
            dynamo::key(provider_pk(key), OUTCOME),
        )
        .await?;
        output
            .map(|item| dynamo::from_item::<StoredOutcome>(item).map(|stored| stored.outcome))
            .transpose()
    }

    /// Makes `outcome` the key's unless it has one already; returns the key's outcome.
    async fn record(
        &self,
        key: &str,
        outcome: ProviderOutcome,
    ) -> Result<ProviderOutcome, StoreError> {
        let stored = StoredOutcome {
            key: key.to_owned(),
            outcome,
            recorded_at: service_kit::clock::now(),
        };
        let item = dynamo::to_item(&stored, provider_pk(key), OUTCOME)?;
        Ok(
            match dynamo::put_if_absent::<StoredOutcome>(&self.client, &self.table, item).await? {
                Inserted::Created => stored.outcome,
                Inserted::Existing(existing) => existing.outcome,
            },
        )
    }

    /// Counts one more undecided charge attempt with the key and returns the count.
    async fn count_attempt(&self, key: &str) -> Result<u32, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(dynamo::key(provider_pk(key), ATTEMPTS)))
            .update_expression("ADD attempts :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await?;
        output
            .attributes
            .as_ref()
            .and_then(|item| item.get("attempts"))
            .and_then(|attempts| attempts.as_n().ok())
            .and_then(|attempts| attempts.parse().ok())
            .ok_or_else(|| StoreError::Corrupt("attempt counter is not a number".into()))
    }
}

/// What the simulator decides about a key it has no outcome for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SimulatedVerdict {
    Approve,
    /// Approve, after making the caller wait.
    ApproveAfter(Duration),
    Decline(String),
    /// Fail transiently: decide nothing.
    Unavailable,
}

/// The simulator's decision for `method` on the `attempt`-th try (1-based) at a key.
fn decide(
    method: PaymentMethod,
    attempt: u32,
    declining: bool,
    slow_delay: Duration,
) -> SimulatedVerdict {
    if declining {
        return SimulatedVerdict::Decline("The payment service is declining all charges.".into());
    }
    match method {
        PaymentMethod::Approve => SimulatedVerdict::Approve,
        PaymentMethod::Decline => SimulatedVerdict::Decline("The card was declined.".into()),
        PaymentMethod::Transient(failures) if attempt <= failures => SimulatedVerdict::Unavailable,
        PaymentMethod::Transient(_) => SimulatedVerdict::Approve,
        PaymentMethod::Slow => SimulatedVerdict::ApproveAfter(slow_delay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Duration = Duration::from_millis(5);

    #[test]
    fn a_transient_card_fails_n_times_then_approves() {
        let method = PaymentMethod::Transient(2);
        let decisions: Vec<_> = (1..=4)
            .map(|attempt| decide(method, attempt, false, SLOW))
            .collect();
        assert_eq!(
            decisions,
            [
                SimulatedVerdict::Unavailable,
                SimulatedVerdict::Unavailable,
                SimulatedVerdict::Approve,
                SimulatedVerdict::Approve
            ]
        );
    }

    #[test]
    fn the_decline_mode_overrides_every_card() {
        for method in [
            PaymentMethod::Approve,
            PaymentMethod::Slow,
            PaymentMethod::Transient(1),
        ] {
            assert!(matches!(
                decide(method, 1, true, SLOW),
                SimulatedVerdict::Decline(_)
            ));
        }
    }

    #[test]
    fn decline_and_slow_cards_behave_as_named() {
        assert!(matches!(
            decide(PaymentMethod::Decline, 1, false, SLOW),
            SimulatedVerdict::Decline(_)
        ));
        assert_eq!(
            decide(PaymentMethod::Slow, 1, false, SLOW),
            SimulatedVerdict::ApproveAfter(SLOW)
        );
    }

    #[test]
    fn the_stored_outcome_keeps_its_key_and_outcome() {
        let stored = StoredOutcome {
            key: "o".into(),
            outcome: ProviderOutcome::Voided,
            recorded_at: "t".into(),
        };
        let item = dynamo::to_item(&stored, provider_pk("o"), OUTCOME).expect("serialises");
        assert_eq!(item[dynamo::PK], dynamo::s("PROVIDER#o"));
        let back: StoredOutcome = dynamo::from_item(item).expect("deserialises");
        assert_eq!(
            (back.key, back.outcome),
            ("o".to_owned(), ProviderOutcome::Voided)
        );
    }
}
