//! Charges, refunds and what the payment provider says about them, independent of
//! storage, HTTP and of which provider answers.

use serde::{Deserialize, Serialize};

pub use saga_contract::PaymentMethod;

/// Where an order's charge stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeStatus {
    /// Recorded before the provider is asked; the provider may or may not have charged
    /// yet. Only the provider's answer for the order's key settles it.
    Pending,
    Approved,
    Declined,
    /// The provider voided the key before any charge under it: nothing was, or ever
    /// will be, taken.
    Voided,
}

/// The one charge of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    pub method: PaymentMethod,
    pub status: ChargeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    /// The provider's id of the charge it made (approved or declined), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_charge_id: Option<String>,
    pub created_at: String,
}

impl Charge {
    /// The record written before the provider is called, so that a charge whose
    /// caller dies mid-call is never forgotten.
    pub fn pending(
        order_id: &str,
        amount: u64,
        currency: &str,
        method: PaymentMethod,
        now: &str,
    ) -> Self {
        Self {
            order_id: order_id.to_owned(),
            amount,
            currency: currency.to_owned(),
            method,
            status: ChargeStatus::Pending,
            decline_reason: None,
            provider_charge_id: None,
            created_at: now.to_owned(),
        }
    }

    /// Whether the provider's answer is in: settled charges never change again.
    pub fn is_settled(&self) -> bool {
        self.status != ChargeStatus::Pending
    }

    /// What was actually taken from the customer.
    pub fn captured(&self) -> u64 {
        match self.status {
            ChargeStatus::Approved => self.amount,
            ChargeStatus::Pending | ChargeStatus::Declined | ChargeStatus::Voided => 0,
        }
    }
}

/// A charge as the provider remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCharge {
    /// The provider's own id: one per charge it actually made.
    pub id: String,
    pub amount: u64,
    pub currency: String,
    pub method: PaymentMethod,
}

/// The provider's one, final outcome for an idempotency key (the order id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProviderOutcome {
    Approved {
        charge: ProviderCharge,
    },
    Declined {
        charge: ProviderCharge,
        reason: String,
    },
    /// Voided before any charge: the provider refuses every charge with this key.
    Voided,
}

/// The order's charge once the provider's `outcome` for its key is known, from the
/// `pending` record if there is one. The provider's record wins over the pending one,
/// because it is what happened; a voided key closes the pending charge as VOIDED, and
/// with no pending charge there is nothing to record (`None`).
pub fn settle(
    order_id: &str,
    pending: Option<&Charge>,
    outcome: &ProviderOutcome,
    now: &str,
) -> Option<Charge> {
    let made = |charge: &ProviderCharge, status, decline_reason| Charge {
        order_id: order_id.to_owned(),
        amount: charge.amount,
        currency: charge.currency.clone(),
        method: charge.method,
        status,
        decline_reason,
        provider_charge_id: Some(charge.id.clone()),
        created_at: pending.map_or(now, |p| &p.created_at).to_owned(),
    };
    match outcome {
        ProviderOutcome::Approved { charge } => Some(made(charge, ChargeStatus::Approved, None)),
        ProviderOutcome::Declined { charge, reason } => {
            Some(made(charge, ChargeStatus::Declined, Some(reason.clone())))
        }
        ProviderOutcome::Voided => pending.map(|pending| Charge {
            status: ChargeStatus::Voided,
            ..pending.clone()
        }),
    }
}

/// The one refund of an order: always the whole captured amount, possibly zero (a
/// refund of an order that was never charged, which also closes it to charges).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub order_id: String,
    pub amount: u64,
    pub created_at: String,
}

/// An order's payments as read back: its charge and refund, and what they add up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<Charge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    pub charged: u64,
    pub refunded: u64,
    /// `charged - refunded`: what the customer has paid and not had back.
    pub balance: u64,
}

impl Ledger {
    pub fn new(order_id: &str, charge: Option<Charge>, refund: Option<Refund>) -> Self {
        let charged = charge.as_ref().map_or(0, Charge::captured);
        let refunded = refund.as_ref().map_or(0, |r| r.amount);
        Self {
            order_id: order_id.to_owned(),
            charge,
            refund,
            charged,
            refunded,
            balance: charged.saturating_sub(refunded),
        }
    }
}

#[cfg(test)]
mod tests {
    use service_kit::dynamo;

    use super::*;

    fn pending() -> Charge {
        Charge::pending("o", 500, "EUR", PaymentMethod::Approve, "t0")
    }

    fn provider_charge(amount: u64) -> ProviderCharge {
        ProviderCharge {
            id: "ch_1".into(),
            amount,
            currency: "EUR".into(),
            method: PaymentMethod::Approve,
        }
    }

    #[test]
    fn an_approval_settles_the_pending_charge_with_the_providers_id() {
        let outcome = ProviderOutcome::Approved {
            charge: provider_charge(500),
        };
        let settled = settle("o", Some(&pending()), &outcome, "t1").expect("settled");
        assert_eq!(settled.status, ChargeStatus::Approved);
        assert_eq!(settled.provider_charge_id.as_deref(), Some("ch_1"));
        assert_eq!(
            settled.created_at, "t0",
            "the charge began when it was pending"
        );
        assert_eq!(settled.captured(), 500);
    }

    #[test]
    fn the_providers_record_wins_over_the_pending_one() {
        // A pending record can only differ from the provider's after a race between
        // attempts; what the provider charged is what the ledger must show.
        let outcome = ProviderOutcome::Declined {
            charge: provider_charge(700),
            reason: "no".into(),
        };
        let settled = settle("o", Some(&pending()), &outcome, "t1").expect("settled");
        assert_eq!(
            (settled.amount, settled.status, settled.decline_reason),
            (700, ChargeStatus::Declined, Some("no".into()))
        );
        let without_pending = settle("o", None, &outcome, "t1").expect("settled");
        assert_eq!(without_pending.created_at, "t1");
    }

    #[test]
    fn a_void_closes_a_pending_charge_and_records_nothing_without_one() {
        let voided = settle("o", Some(&pending()), &ProviderOutcome::Voided, "t1");
        assert_eq!(
            voided,
            Some(Charge {
                status: ChargeStatus::Voided,
                ..pending()
            })
        );
        assert_eq!(settle("o", None, &ProviderOutcome::Voided, "t1"), None);
    }

    #[test]
    fn provider_outcomes_round_trip_through_storage() {
        for outcome in [
            ProviderOutcome::Approved {
                charge: provider_charge(500),
            },
            ProviderOutcome::Declined {
                charge: provider_charge(500),
                reason: "no".into(),
            },
            ProviderOutcome::Voided,
        ] {
            let item = dynamo::to_item(&outcome, "PROVIDER#o", "OUTCOME").expect("serialises");
            assert_eq!(
                dynamo::from_item::<ProviderOutcome>(item).expect("deserialises"),
                outcome
            );
        }
    }

    #[test]
    fn the_ledger_counts_only_captured_money() {
        let charge = |status| Charge {
            status,
            ..pending()
        };
        let refund = Refund {
            order_id: "o".into(),
            amount: 500,
            created_at: String::new(),
        };
        let ledger = Ledger::new("o", Some(charge(ChargeStatus::Approved)), None);
        assert_eq!(
            (ledger.charged, ledger.refunded, ledger.balance),
            (500, 0, 500)
        );
        let ledger = Ledger::new("o", Some(charge(ChargeStatus::Approved)), Some(refund));
        assert_eq!(
            (ledger.charged, ledger.refunded, ledger.balance),
            (500, 500, 0)
        );
        for status in [
            ChargeStatus::Pending,
            ChargeStatus::Declined,
            ChargeStatus::Voided,
        ] {
            let ledger = Ledger::new("o", Some(charge(status)), None);
            assert_eq!((ledger.charged, ledger.balance), (0, 0), "{status:?}");
        }
    }
}
