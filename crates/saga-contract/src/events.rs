//! What the saga records in a customer's notification feed (and the admins' feed).

use serde::{Deserialize, Serialize};

/// The kind of a notification, serialized as e.g. `order.completed`; clients switch on
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    /// A step is retrying (since the saga ran its steps locally; before, every step
    /// change): `data` has `step`, `status`, `attempts` and `error`.
    #[serde(rename = "order.step")]
    OrderStep,
    /// A large order waits for a reviewer: `data` has `deadline`, `total`, `currency`.
    #[serde(rename = "order.approval_required")]
    OrderApprovalRequired,
    /// The order is complete: the saga's last word; `data.steps` holds the steps it ran.
    #[serde(rename = "order.completed")]
    OrderCompleted,
    /// The order was cancelled (`body`: why): the saga's last word; `data.steps` holds
    /// the steps it ran.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// To the admins: a compensation keeps failing; `data` has `step` and `error`.
    #[serde(rename = "saga.compensation_stuck")]
    CompensationStuck,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        Self::OrderStep,
        Self::OrderApprovalRequired,
        Self::OrderCompleted,
        Self::OrderCancelled,
        Self::CompensationStuck,
    ];

    /// The name it is serialized as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderStep => "order.step",
            Self::OrderApprovalRequired => "order.approval_required",
            Self::OrderCompleted => "order.completed",
            Self::OrderCancelled => "order.cancelled",
            Self::CompensationStuck => "saga.compensation_stuck",
        }
    }

    /// Whether it is a saga's last word about an order.
    pub fn is_final(self) -> bool {
        matches!(self, Self::OrderCompleted | Self::OrderCancelled)
    }
}
