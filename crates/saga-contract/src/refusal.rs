//! The services' business refusals: the problem types (`/problems/<slug>`) with which a
//! service says that a call of the saga cannot take effect, whatever the number of
//! attempts. The services build their problems from these, and the worker ends a step
//! for good on exactly these; every other answer may clear, so it is retried.

use serde::{Deserialize, Serialize};

/// A business refusal, serialized as its slug, e.g. `out-of-stock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    // inventory
    OutOfStock,
    UnknownProduct,
    ReservationMismatch,
    ReservationReleased,
    ReservationCommitted,
    ReservationActive,
    // order
    OrderMismatch,
    InvalidTransition,
    /// The customer has as many open orders as it may.
    OpenOrderLimit,
    /// The customer's open orders would hold more units than it may.
    HeldUnitsLimit,
    // payment
    PaymentDeclined,
    PaymentVoided,
    ChargeMismatch,
    // notification
    KeyReused,
    // every service: the request itself is invalid
    ValidationFailed,
    MalformedJson,
    BadRequest,
}

impl Refusal {
    pub const ALL: [Refusal; 17] = [
        Self::OutOfStock,
        Self::UnknownProduct,
        Self::ReservationMismatch,
        Self::ReservationReleased,
        Self::ReservationCommitted,
        Self::ReservationActive,
        Self::OrderMismatch,
        Self::InvalidTransition,
        Self::OpenOrderLimit,
        Self::HeldUnitsLimit,
        Self::PaymentDeclined,
        Self::PaymentVoided,
        Self::ChargeMismatch,
        Self::KeyReused,
        Self::ValidationFailed,
        Self::MalformedJson,
        Self::BadRequest,
    ];

    /// Its problem type's slug, as it is serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out-of-stock",
            Self::UnknownProduct => "unknown-product",
            Self::ReservationMismatch => "reservation-mismatch",
            Self::ReservationReleased => "reservation-released",
            Self::ReservationCommitted => "reservation-committed",
            Self::ReservationActive => "reservation-active",
            Self::OrderMismatch => "order-mismatch",
            Self::InvalidTransition => "invalid-transition",
            Self::OpenOrderLimit => "open-order-limit",
            Self::HeldUnitsLimit => "held-units-limit",
            Self::PaymentDeclined => "payment-declined",
            Self::PaymentVoided => "payment-voided",
            Self::ChargeMismatch => "charge-mismatch",
            Self::KeyReused => "key-reused",
            Self::ValidationFailed => "validation-failed",
            Self::MalformedJson => "malformed-json",
            Self::BadRequest => "bad-request",
        }
    }

    /// The refusal a problem type's slug names, if it names one.
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|refusal| refusal.as_str() == slug)
    }

    /// The problem's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::OutOfStock => "Out of stock",
            Self::UnknownProduct => "Unknown product",
            Self::ReservationMismatch => "Reservation mismatch",
            Self::ReservationReleased => "Reservation released",
            Self::ReservationCommitted => "Reservation committed",
            Self::ReservationActive => "Reservation active",
            Self::OrderMismatch => "Order mismatch",
            Self::InvalidTransition => "Invalid status transition",
            Self::OpenOrderLimit => "Too many open orders",
            Self::HeldUnitsLimit => "Too many units held",
            Self::PaymentDeclined => "Payment declined",
            Self::PaymentVoided => "Payment voided",
            Self::ChargeMismatch => "Charge mismatch",
            Self::KeyReused => "Idempotency key reused",
            Self::ValidationFailed => "The request is not valid",
            Self::MalformedJson => "Malformed JSON",
            Self::BadRequest => "Bad request",
        }
    }

    /// The problem's HTTP status: 402 for a declined payment, 422 for what is invalid
    /// in itself, 400 for what cannot be read, 409 for what conflicts with the state.
    pub fn status(self) -> u16 {
        match self {
            Self::PaymentDeclined => 402,
            Self::UnknownProduct | Self::ValidationFailed => 422,
            Self::MalformedJson | Self::BadRequest => 400,
            _ => 409,
        }
    }
}
