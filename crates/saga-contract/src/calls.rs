//! The calls the saga makes to the services, as one contract: the request bodies the
//! worker's activities send and the services' routes accept, and the order status enum
//! with its state machine. The services parse these bodies and validate every field
//! (ids, amounts, texts) at their edge; the worker builds them from the saga's input.
//!
//! | call | route | body |
//! |---|---|---|
//! | create the order | order `PUT /orders/{id}` | [`CreateOrderBody`] |
//! | move the order | order `POST /orders/{id}/status` | [`ChangeStatusBody`] |
//! | reserve stock | inventory `PUT /reservations/{order id}` | [`ReserveStockBody`] |
//! | charge | payment `POST /payments/{order id}/charge` | [`ChargeBody`] |
//! | record a notification | notification `POST /users/{id}/notifications` | [`RecordNotificationBody`] |
//!
//! Releasing a reservation and refunding a charge take no body; committing one takes
//! its lines ([`ReserveStockBody`]) when the caller wants it done in one write. The
//! order service answers with an [`Order`], which the gateway publishes as it is; a
//! creation with a [`CreatedOrder`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::OrderLine;

/// The most units of one product an order may hold (lines of the same SKU summed):
/// the gateway refuses more, and the order and inventory services hold to it too.
pub const MAX_LINE_QUANTITY: u32 = 100;
/// The most distinct products one order may hold.
pub const MAX_ORDER_LINES: usize = 50;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Reserved,
    Paid,
    Completed,
    Cancelled,
}

impl OrderStatus {
    /// The states an order must be in to move to `self`. The happy path is
    /// PENDING → RESERVED → PAID → COMPLETED; any state that is not final may be
    /// CANCELLED. Nothing moves back to PENDING.
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Pending => &[],
            Reserved => &[Pending],
            Paid => &[Reserved],
            Completed => &[Paid],
            Cancelled => &[Pending, Reserved, Paid],
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }

    /// Whether the state machine allows `path` (each status from the one before it):
    /// `from` is where the order is, `path` where it goes, in order.
    pub fn allows(path: &[OrderStatus]) -> bool {
        path.windows(2)
            .all(|step| step[1].allowed_from().contains(&step[0]))
    }
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An order as the order service keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub currency: String,
    /// Sum of quantity × unit price over the lines, in minor units.
    pub total: u64,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// Every status the order has had, oldest first, starting with PENDING.
    pub history: Vec<StatusChange>,
    pub created_at: String,
    pub updated_at: String,
    /// The OpenTelemetry trace the order was created in (the checkout's, from the
    /// browser through the saga), when traces are exported: for finding it in Jaeger
    /// or X-Ray.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// The order service's answer to a creation: the order, and the total of the
/// customer's other open orders when this one was counted among them, which the saga
/// adds to the order's own total against the review threshold (so that splitting a
/// large order does not avoid review).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedOrder {
    #[serde(flatten)]
    pub order: Order,
    /// In minor units; 0 for an order that is no longer open.
    pub open_elsewhere: u64,
}

/// Creates the order, `PENDING`, with the lines priced by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderBody {
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub currency: String,
}

/// Moves the order to `status`; only `CANCELLED` takes (and needs) a `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatusBody {
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Statuses the order passes through on the way, in order, recorded in its history
    /// in the same write (the saga completes an order `via` PAID: both happen in one
    /// workflow task).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<OrderStatus>,
}

/// One line of a reservation: units of a SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockLine {
    pub sku: String,
    pub quantity: u32,
}

/// Holds stock for an order: all lines or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveStockBody {
    pub lines: Vec<StockLine>,
}

/// Charges the order's total (minor units) with a payment method (a test card).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeBody {
    pub amount: u64,
    pub currency: String,
    pub method: String,
}

/// Records a notification in a user's feed, once per `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordNotificationBody {
    /// Idempotency key: the same key records one notification however often it is sent.
    pub key: String,
    pub kind: crate::EventKind,
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub order_id: Option<String>,
    #[serde(default)]
    pub data: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_written_as_the_services_store_them() {
        let change = ChangeStatusBody {
            status: OrderStatus::Reserved,
            reason: None,
            via: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&change).expect("json"),
            serde_json::json!({"status": "RESERVED"})
        );
    }

    #[test]
    fn a_body_with_a_field_the_service_does_not_know_is_refused() {
        let body = r#"{"amount": 100, "currency": "EUR", "method": "card_approve", "tip": 5}"#;
        assert!(serde_json::from_str::<ChargeBody>(body).is_err());
    }
}
