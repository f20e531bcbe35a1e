//! The payment operations, over any [`PaymentStore`].

use std::time::Duration;

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::dynamo::StoreError;

use crate::domain::{
    Charge, ChargeStatus, Ledger, PaymentMethod, ProviderAnswer, Refund, provider_answer,
};
use crate::store::{ChargeOutcome, PaymentStore, RefundOutcome};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("charge declined")]
    Declined(Box<Charge>),
    #[error("order {0} was charged with other details")]
    Mismatch(String),
    #[error("order {0} was refunded before any charge")]
    Voided(String),
    #[error("the payment provider is temporarily unavailable")]
    ProviderUnavailable,
    #[error("no payments for order {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PaymentError> for Problem {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Declined(charge) => Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment-declined",
                "Payment declined",
            )
            .with_detail(charge.decline_reason.clone().unwrap_or_default())
            .with_extension("charge", charge),
            PaymentError::Mismatch(order_id) => Problem::conflict(
                "charge-mismatch",
                "Charge mismatch",
                format!("Order {order_id:?} was already charged with another amount or currency."),
            ),
            PaymentError::Voided(order_id) => Problem::conflict(
                "payment-voided",
                "Payment voided",
                format!(
                    "Order {order_id:?} was refunded before it was charged; it cannot be charged."
                ),
            ),
            PaymentError::ProviderUnavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider-unavailable",
                "Payment provider unavailable",
            )
            .with_detail(
                "The payment provider failed transiently. Nothing was charged; retry later.",
            ),
            PaymentError::NotFound(order_id) => {
                Problem::not_found(format!("There are no payments for order {order_id:?}."))
            }
            PaymentError::Store(error) => error.into(),
        }
    }
}

/// Whether a call created the resource or found it already there (a retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Existing,
}

/// A validated charge request.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    pub method: PaymentMethod,
}

/// How the simulated provider is set up for this request.
#[derive(Debug, Clone, Copy)]
pub struct ProviderSettings {
    /// The payment service's `decline` failure mode is on.
    pub declining: bool,
    /// How long `card_slow` takes.
    pub slow_delay: Duration,
}

/// Charges the order once. Repeating the charge returns the recorded outcome, approved
/// or declined, without asking the provider again.
pub async fn charge<S: PaymentStore>(
    store: &S,
    request: ChargeRequest,
    provider: ProviderSettings,
) -> Result<(Charge, Outcome), PaymentError> {
    // Fast path for retries; the conditional write below is what guarantees one charge.
    if let (charge, refund) = store.payments(&request.order_id).await?
        && (charge.is_some() || refund.is_some())
    {
        return settled(&request, charge, refund);
    }
    let attempt = match request.method {
        PaymentMethod::Transient(_) => store.count_attempt(&request.order_id).await?,
        _ => 1,
    };
    let (status, decline_reason) = match provider_answer(
        request.method,
        attempt,
        provider.declining,
        provider.slow_delay,
    ) {
        ProviderAnswer::Approved => (ChargeStatus::Approved, None),
        ProviderAnswer::ApprovedAfter(delay) => {
            tokio::time::sleep(delay).await;
            (ChargeStatus::Approved, None)
        }
        ProviderAnswer::Declined(reason) => (ChargeStatus::Declined, Some(reason)),
        ProviderAnswer::Unavailable => return Err(PaymentError::ProviderUnavailable),
    };
    let charge = Charge {
        order_id: request.order_id.clone(),
        amount: request.amount,
        currency: request.currency.clone(),
        method: request.method,
        status,
        decline_reason,
        created_at: service_kit::clock::now(),
    };
    match store.record_charge(&charge).await? {
        ChargeOutcome::Recorded(charge) => approved(charge, Outcome::Created),
        ChargeOutcome::Exists(existing) => settled(&request, Some(existing), None),
        ChargeOutcome::Voided(refund) => settled(&request, None, Some(refund)),
    }
}

/// The answer for an order whose payment was already settled one way or another.
fn settled(
    request: &ChargeRequest,
    charge: Option<Charge>,
    refund: Option<Refund>,
) -> Result<(Charge, Outcome), PaymentError> {
    match charge {
        Some(existing)
            if existing.amount == request.amount && existing.currency == request.currency =>
        {
            approved(existing, Outcome::Existing)
        }
        Some(_) => Err(PaymentError::Mismatch(request.order_id.clone())),
        None if refund.is_some() => Err(PaymentError::Voided(request.order_id.clone())),
        None => Err(PaymentError::Store(StoreError::Failed(
            "settled payment without charge or refund".into(),
        ))),
    }
}

fn approved(charge: Charge, outcome: Outcome) -> Result<(Charge, Outcome), PaymentError> {
    match charge.status {
        ChargeStatus::Approved => Ok((charge, outcome)),
        ChargeStatus::Declined => Err(PaymentError::Declined(Box::new(charge))),
    }
}

/// Refunds the order's whole captured amount, once. Safe for an order that was never
/// charged: that refund is zero and closes the order to charges.
pub async fn refund<S: PaymentStore>(
    store: &S,
    order_id: &str,
) -> Result<(Refund, Outcome), PaymentError> {
    match store.refund(order_id, &service_kit::clock::now()).await? {
        RefundOutcome::Refunded(refund) => Ok((refund, Outcome::Created)),
        RefundOutcome::Exists(refund) => Ok((refund, Outcome::Existing)),
    }
}

pub async fn ledger<S: PaymentStore>(store: &S, order_id: &str) -> Result<Ledger, PaymentError> {
    match store.payments(order_id).await? {
        (None, None) => Err(PaymentError::NotFound(order_id.to_owned())),
        (charge, refund) => Ok(Ledger::new(order_id, charge, refund)),
    }
}
