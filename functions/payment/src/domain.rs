//! Charges, refunds and the simulated payment provider, independent of storage and
//! HTTP.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use saga_contract::PaymentMethod;

/// What the provider says about one attempt to charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderAnswer {
    Approved,
    Declined(String),
    /// Try again later; nothing was charged.
    Unavailable,
    /// Approved, after making the caller wait.
    ApprovedAfter(Duration),
}

/// The simulated provider's answer for `method` on the `attempt`-th try (1-based) at
/// an order. `declining` is the payment service's `decline` failure mode.
pub fn provider_answer(
    method: PaymentMethod,
    attempt: u32,
    declining: bool,
    slow_delay: Duration,
) -> ProviderAnswer {
    if declining {
        return ProviderAnswer::Declined("The payment service is declining all charges.".into());
    }
    match method {
        PaymentMethod::Approve => ProviderAnswer::Approved,
        PaymentMethod::Decline => ProviderAnswer::Declined("The card was declined.".into()),
        PaymentMethod::Transient(failures) if attempt <= failures => ProviderAnswer::Unavailable,
        PaymentMethod::Transient(_) => ProviderAnswer::Approved,
        PaymentMethod::Slow => ProviderAnswer::ApprovedAfter(slow_delay),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeStatus {
    Approved,
    Declined,
}

/// The one charge of an order, approved or declined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    pub method: PaymentMethod,
    pub status: ChargeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    pub created_at: String,
}

impl Charge {
    /// What was actually taken from the customer.
    pub fn captured(&self) -> u64 {
        match self.status {
            ChargeStatus::Approved => self.amount,
            ChargeStatus::Declined => 0,
        }
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
    use super::*;

    const SLOW: Duration = Duration::from_millis(5);

    #[test]
    fn a_transient_card_fails_n_times_then_approves() {
        let method = PaymentMethod::Transient(2);
        let answers: Vec<_> = (1..=4)
            .map(|attempt| provider_answer(method, attempt, false, SLOW))
            .collect();
        assert_eq!(
            answers,
            [
                ProviderAnswer::Unavailable,
                ProviderAnswer::Unavailable,
                ProviderAnswer::Approved,
                ProviderAnswer::Approved
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
                provider_answer(method, 1, true, SLOW),
                ProviderAnswer::Declined(_)
            ));
        }
    }

    #[test]
    fn decline_and_slow_cards_behave_as_named() {
        assert!(matches!(
            provider_answer(PaymentMethod::Decline, 1, false, SLOW),
            ProviderAnswer::Declined(_)
        ));
        assert_eq!(
            provider_answer(PaymentMethod::Slow, 1, false, SLOW),
            ProviderAnswer::ApprovedAfter(SLOW)
        );
    }

    #[test]
    fn the_ledger_counts_only_captured_money() {
        let charge = |status| Charge {
            order_id: "o".into(),
            amount: 500,
            currency: "EUR".into(),
            method: PaymentMethod::Approve,
            status,
            decline_reason: None,
            created_at: String::new(),
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
        let ledger = Ledger::new("o", Some(charge(ChargeStatus::Declined)), None);
        assert_eq!((ledger.charged, ledger.balance), (0, 0));
    }
}
