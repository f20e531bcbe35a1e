//! Decisions about a running saga: what the `decide` update and the older signals
//! carry (who decides, too), and the reasons its validator gives for refusing one.

use serde::{Deserialize, Serialize};

/// Why the `decide` or `retry_now` update refused: their validators answer one of these,
/// and the gateway passes them on to the caller (and nothing else a failure may say).
pub mod refusals {
    pub const CLOSED: &str = "This order is no longer being processed.";
    pub const ALREADY_REVIEWED: &str = "This order has already been reviewed.";
    pub const NOT_IN_REVIEW: &str = "This order is not awaiting review.";
    pub const PAYMENT_STARTED: &str = "The payment is already being captured.";
    pub const ALREADY_CANCELLING: &str = "The order is already being cancelled.";
    pub const NOTHING_TO_RETRY: &str = "This saga is not stuck: there is nothing to retry.";
    /// An approval or rejection that names no reviewer (staff) deciding it.
    pub const NO_REVIEWER: &str = "A review must name the reviewer deciding it.";
    /// An approval or rejection by the order's own customer.
    pub const OWN_ORDER: &str = "Another reviewer must decide on an order you placed.";
    /// A cancellation that names neither the order's customer nor staff.
    pub const NOT_THE_CUSTOMER: &str = "Only the customer who placed the order may cancel it.";
    pub const ALL: [&str; 9] = [
        CLOSED,
        ALREADY_REVIEWED,
        NOT_IN_REVIEW,
        PAYMENT_STARTED,
        ALREADY_CANCELLING,
        NOTHING_TO_RETRY,
        NO_REVIEWER,
        OWN_ORDER,
        NOT_THE_CUSTOMER,
    ];
}

/// What a decision asks of the saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// A reviewer lets a large order go on to the payment.
    Approve,
    /// A reviewer refuses a large order: it is cancelled.
    Reject,
    /// The customer withdraws the order, until its payment starts.
    Cancel,
}

impl DecisionAction {
    /// The name it is serialized as, and the id of its `decide` update: a repeated
    /// decision is the same update, applied once.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
        }
    }
}

/// The role a decider acts in, as the gateway authenticated them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeciderRole {
    /// The customer who placed the order (a cancellation).
    Customer,
    /// Staff: a reviewer of large orders.
    Admin,
}

/// Who made a decision: the authenticated user the gateway sends it for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decider {
    /// The user's id (opaque).
    pub id: String,
    pub role: DeciderRole,
}

/// The input of the [`DECIDE_UPDATE`](crate::DECIDE_UPDATE) update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderDecision {
    pub action: DecisionAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who decides. Optional in the payload only because decisions recorded before it
    /// have none (they must still decode when their histories replay); the saga refuses
    /// an approval or rejection without a reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Decider>,
}

/// The payload of the `reject` and `cancel` signals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    #[serde(default)]
    pub reason: Option<String>,
}
