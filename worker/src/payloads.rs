//! What the workflow and its activities exchange through Temporal: the activities'
//! inputs and results, and the signal with which an activity reports a failed attempt.
//! Both sides use these types, so they live apart from either (the workflow calls the
//! activities; the activities signal the workflow through the contract's definition of
//! it, never through the workflow's code).
//!
//! Their JSON is in every recorded history: change a field only with a patch, and
//! check it with the replay test.

use saga_contract::calls::OrderStatus;
use saga_contract::{EventKind, OrderLine};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use temporalio_common::SignalDefinition;

/// What every activity returns: on which attempt it succeeded (the workflow cannot see
/// attempts otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    /// `create_order` only: the total of the customer's other open orders, which
    /// counts toward the review threshold. Absent from results recorded before it, so
    /// that those sagas replay as they ran (nothing else open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_elsewhere: Option<u64>,
    /// `create_order` only: the order was paid before this run, so its review, if it
    /// had one, was approved. Only a reset saga finds that: it must not hold a
    /// completed order for a second review, which could time out and refund it.
    /// Absent from results recorded before it, and from every other result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paid_before: bool,
}

/// Failure details every activity attaches, for the same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetails {
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveRequest {
    pub order_id: String,
    pub lines: Vec<OrderLine>,
}

/// Moves the order forward (histories recorded before this type also hold a `reason`,
/// always null here: it is ignored), through the statuses of `via` first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    pub order_id: String,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<OrderStatus>,
}

/// Commits the order's reservation, which holds these lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    pub order_id: String,
    pub lines: Vec<OrderLine>,
}

/// Cancels the order with the saga's reason (histories recorded before this type hold
/// a `status`, always `CANCELLED`: it is ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub order_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRequest {
    pub order_id: String,
    pub amount: u64,
    pub currency: String,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRequest {
    pub user_id: String,
    /// Idempotency key: the same key records one notification however often it is sent.
    pub key: String,
    pub kind: EventKind,
    pub title: String,
    pub body: String,
    pub order_id: Option<String>,
    pub data: Map<String, Value>,
}

/// The payload of the `attempt_failed` signal an activity sends when one of its
/// attempts fails and will be retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFailure {
    pub attempt: u32,
    pub error: String,
    /// An attempt of a local activity: its number is the step's own (a regular
    /// activity's count again from one after the local ones).
    #[serde(default)]
    pub local: bool,
}

/// The signal the activities send about their failed attempts.
pub const ATTEMPT_FAILED_SIGNAL: &str = "attempt_failed";

/// The `attempt_failed` signal typed, as the activities send it (the workflow takes
/// every payload raw).
pub struct AttemptFailedSignal;

impl SignalDefinition for AttemptFailedSignal {
    type Workflow = saga_contract::temporal::OrderSaga;
    type Input = AttemptFailure;
    fn name(&self) -> &str {
        ATTEMPT_FAILED_SIGNAL
    }
}
