//! The payment operations, over the [`PaymentStore`] and the [`Provider`].
//!
//! The ledger records a charge as PENDING before the provider is asked, and settles it
//! only from the provider's outcome for the order's key. A refund that meets a charge
//! that is not settled (its provider call in flight, or its caller dead) asks the
//! provider to void the key: the provider either had decided the charge, and the
//! ledger settles and refunds it, or will refuse it from now on, and the order closes
//! with a zero refund. Either way nothing is lost or taken twice.

use axum::http::StatusCode;
use saga_contract::Refusal;
use service_kit::Problem;
use service_kit::dynamo::StoreError;
use service_kit::outcome::Outcome;

use crate::domain::{self, Charge, ChargeStatus, Ledger, PaymentMethod, Refund};
use crate::provider::{Provider, ProviderError};
use crate::store::{BeginOutcome, PaymentStore, RefundOutcome, SettleOutcome};

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
            PaymentError::Declined(charge) => Problem::refused(
                Refusal::PaymentDeclined,
                charge.decline_reason.clone().unwrap_or_default(),
            )
            .with_extension("charge", charge),
            PaymentError::Mismatch(order_id) => Problem::refused(
                Refusal::ChargeMismatch,
                format!("Order {order_id:?} was already charged with another amount or currency."),
            ),
            PaymentError::Voided(order_id) => Problem::refused(
                Refusal::PaymentVoided,
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

/// A validated charge request.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    pub method: PaymentMethod,
}

/// Charges the order once. Repeating the charge returns the settled outcome, approved
/// or declined; a charge left PENDING (by a caller that died, or one still in flight)
/// is settled from the provider's outcome for the order, which charges at most once.
pub async fn charge(
    store: &PaymentStore,
    provider: &Provider,
    request: ChargeRequest,
) -> Result<(Charge, Outcome), PaymentError> {
    let order_id = &request.order_id;
    let now = service_kit::clock::now();
    let pending = Charge::pending(
        order_id,
        request.amount,
        &request.currency,
        request.method,
        &now,
    );
    // The conditional write is what makes the charge unique; a repeat finds the charge
    // there (with its refund, if any, read only then).
    let (pending, fresh) = match store.begin_charge(&pending).await? {
        BeginOutcome::Recorded(charge) => (charge, true),
        BeginOutcome::Exists(charge) if !charge.is_settled() => (charge, false),
        BeginOutcome::Exists(_) => {
            let (charge, refund) = store.payments(order_id).await?;
            return answer(&request, charge, refund, Outcome::Existing);
        }
    };
    // The provider is only ever asked for the details the ledger recorded first.
    if !same_details(&pending, &request) {
        return Err(PaymentError::Mismatch(order_id.clone()));
    }
    // A charge this request began cannot have reached the provider before: no need to
    // ask the provider what it decided first.
    let asked_before = !fresh;
    let outcome = match provider
        .charge(
            order_id,
            request.amount,
            &request.currency,
            request.method,
            asked_before,
        )
        .await
    {
        Ok(outcome) => outcome,
        Err(ProviderError::Unavailable) => {
            store.withdraw_charge(order_id).await?;
            return Err(PaymentError::ProviderUnavailable);
        }
        // The provider may have charged: the PENDING charge stays for the next
        // attempt, or a refund, to settle from the provider's memory.
        Err(ProviderError::Unknown(error)) => return Err(error.into()),
    };
    let Some(settled) = domain::settle(order_id, Some(&pending), &outcome, &now) else {
        return Err(PaymentError::Voided(order_id.clone()));
    };
    match store.settle_charge(&settled).await? {
        SettleOutcome::Settled(charge) => answer(&request, Some(charge), None, Outcome::Created),
        SettleOutcome::Closed(charge, refund) => {
            answer(&request, charge, refund, Outcome::Existing)
        }
    }
}

fn same_details(charge: &Charge, request: &ChargeRequest) -> bool {
    charge.amount == request.amount && charge.currency == request.currency
}

/// The answer to `request` for an order whose payment is settled one way or another.
fn answer(
    request: &ChargeRequest,
    charge: Option<Charge>,
    refund: Option<Refund>,
    outcome: Outcome,
) -> Result<(Charge, Outcome), PaymentError> {
    let voided = || PaymentError::Voided(request.order_id.clone());
    match charge {
        Some(charge) if charge.status == ChargeStatus::Voided => Err(voided()),
        Some(charge) if !same_details(&charge, request) => {
            Err(PaymentError::Mismatch(request.order_id.clone()))
        }
        Some(charge) => match charge.status {
            ChargeStatus::Approved => Ok((charge, outcome)),
            ChargeStatus::Declined => Err(PaymentError::Declined(Box::new(charge))),
            // Not reachable: a charge is only answered from once it is settled (or
            // refunded, which settles it first). Should it happen, a retry will see.
            ChargeStatus::Pending | ChargeStatus::Voided => Err(PaymentError::Store(
                StoreError::Unavailable("the charge is not settled yet".into()),
            )),
        },
        None if refund.is_some() => Err(voided()),
        None => Err(PaymentError::Store(StoreError::Failed(
            "settled payment without charge or refund".into(),
        ))),
    }
}

/// A refund re-reads and retries when the charge moves between its read and its
/// write: a charge begins or settles at most once after a void (the provider refuses
/// the rest), so two attempts suffice and four is generous.
const REFUND_ATTEMPTS: usize = 4;

/// Refunds the order's whole captured amount, once. Safe for an order that was never
/// charged, or whose charge is PENDING: the provider voids the key unless it already
/// decided the charge, so the refund is zero and the order closed to charges, or the
/// charge is settled and refunded in full.
pub async fn refund(
    store: &PaymentStore,
    provider: &Provider,
    order_id: &str,
) -> Result<(Refund, Outcome), PaymentError> {
    let now = service_kit::clock::now();
    for _ in 0..REFUND_ATTEMPTS {
        let (charge, refund) = store.payments(order_id).await?;
        if let Some(refund) = refund {
            return Ok((refund, Outcome::Existing));
        }
        let charge = match charge {
            Some(charge) if charge.is_settled() => Some(charge),
            // No charge, or a PENDING one: only the provider knows whether it charged
            // (a charge withdrawn after a turned-away call may still have a concurrent
            // attempt at the provider), and after the void it never will.
            unsettled => {
                let outcome = provider.void(order_id).await?;
                match domain::settle(order_id, unsettled.as_ref(), &outcome, &now) {
                    None => None,
                    Some(settled) => match store.settle_charge(&settled).await? {
                        SettleOutcome::Settled(charge) => Some(charge),
                        // Settled or refunded meanwhile: read again.
                        SettleOutcome::Closed(..) => continue,
                    },
                }
            }
        };
        let refund = Refund {
            order_id: order_id.to_owned(),
            amount: charge.as_ref().map_or(0, Charge::captured),
            created_at: now.clone(),
        };
        match store.refund(&refund, charge.as_ref()).await? {
            RefundOutcome::Refunded(refund) => return Ok((refund, Outcome::Created)),
            // A charge began or settled, or a refund landed, meanwhile: read again.
            RefundOutcome::Changed => continue,
        }
    }
    Err(PaymentError::Store(StoreError::Unavailable(format!(
        "payments of order {order_id} kept changing under a refund"
    ))))
}

pub async fn ledger(store: &PaymentStore, order_id: &str) -> Result<Ledger, PaymentError> {
    match store.payments(order_id).await? {
        (None, None) => Err(PaymentError::NotFound(order_id.to_owned())),
        (charge, refund) => Ok(Ledger::new(order_id, charge, refund)),
    }
}
