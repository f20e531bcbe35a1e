//! The order saga's contract with whoever starts, signals and queries it (the gateway,
//! the tests, the benchmark): names and plain serde types, no Temporal dependency.
//!
//! The workflow id of a saga is its order id, so starting the same order twice starts
//! one workflow.

pub mod breakers;
pub mod calls;
mod decisions;
mod events;
mod refusal;

pub use decisions::{Decider, DeciderRole, Decision, DecisionAction, OrderDecision, refusals};
pub use events::EventKind;
pub use refusal::Refusal;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registered workflow type.
pub const WORKFLOW_TYPE: &str = "OrderSaga";
/// The task queue the worker polls unless `TASK_QUEUE` says otherwise.
pub const DEFAULT_TASK_QUEUE: &str = "order-saga";

/// Signal: approves a large order (no payload). Honoured only by sagas started before
/// reviews named their reviewer; newer ones note it and ignore it (use [`DECIDE_UPDATE`]).
pub const APPROVE_SIGNAL: &str = "approve";
/// Signal: rejects a large order; payload [`Decision`]. Ignored like [`APPROVE_SIGNAL`].
pub const REJECT_SIGNAL: &str = "reject";
/// Signal: cancel the order if the payment has not been captured; payload [`Decision`].
pub const CANCEL_SIGNAL: &str = "cancel";
/// Query: the saga's [`SagaStatus`].
pub const STATUS_QUERY: &str = "status";
/// Update: a decision about the running order, input [`OrderDecision`]. Its validator
/// refuses a decision that can no longer take effect, so that nothing enters the
/// history and the caller learns why at once; an accepted one answers the saga's
/// [`SagaStatus`] with the decision applied.
pub const DECIDE_UPDATE: &str = "decide";
/// Update: answers once the reservation step has an outcome, a
/// [`ReservationOutcome`] (no input). The gateway sends it with the saga's start
/// (Update-with-Start), so that a checkout learns at once whether its stock is held.
pub const RESERVATION_UPDATE: &str = "reservation";
/// Update: an operator's "retry now" for a saga that needs attention: the worker's
/// breaker for the stuck step's service is reset and the step retried at once. Answers
/// the saga's [`SagaStatus`].
pub const RETRY_NOW_UPDATE: &str = "retry_now";
/// Search attribute (Keyword): why a running saga needs an operator
/// ([`AttentionReason`], e.g. `COMPENSATION_STUCK`); empty when it does not. Registered
/// like [`PHASE_SEARCH_ATTRIBUTE`].
pub const ATTENTION_SEARCH_ATTRIBUTE: &str = "SagaAttention";
/// Search attribute (Keyword): the [`SagaPhase`] of a running saga, kept current by
/// the workflow, so that visibility lists e.g. the orders awaiting review. Registered
/// once per namespace: by `infra/lib.sh` on the dev server, by hand on Temporal Cloud
/// (docs/deploy.md).
pub const PHASE_SEARCH_ATTRIBUTE: &str = "SagaPhase";

/// Search attribute (Keyword): why a saga was compensated, a [`SagaOutcome`], set by
/// the workflow as it ends, so that visibility counts compensations by cause (the
/// operations page). A saga that completed sets none (an upsert is a billed action on
/// Temporal Cloud): it is one that ended `Completed` without it. Registered like
/// [`PHASE_SEARCH_ATTRIBUTE`].
pub const OUTCOME_SEARCH_ATTRIBUTE: &str = "SagaOutcome";

/// Notifications to this user id are for administrators (e.g. a stuck compensation).
pub const ADMIN_USER: &str = "admins";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
    /// Price of one unit in minor units, as quoted by the inventory.
    pub unit_price: u64,
}

/// When a large order needs the customer's approval, and for how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalPolicy {
    /// Orders whose total is above this (minor units) wait for approval.
    pub threshold: u64,
    /// How long to wait before the order is cancelled.
    pub timeout_secs: u64,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            threshold: 50_000,
            timeout_secs: 15 * 60,
        }
    }
}

/// The input of one saga. Everything the workflow decides on is in here, so that
/// replaying it never depends on the worker's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SagaInput {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub currency: String,
    /// A payment service test card, e.g. `card_approve`.
    pub payment_method: String,
    #[serde(default)]
    pub approval: ApprovalPolicy,
}

impl SagaInput {
    /// The order total in minor units (saturating: the order service rejects absurd
    /// totals as invalid).
    pub fn total(&self) -> u64 {
        self.lines.iter().fold(0u64, |total, line| {
            total.saturating_add(u64::from(line.quantity).saturating_mul(line.unit_price))
        })
    }

    pub fn needs_approval(&self) -> bool {
        self.needs_approval_with(0)
    }

    /// Whether the order needs approval once the customer's other open orders, whose
    /// total is `open_elsewhere`, count toward the threshold.
    pub fn needs_approval_with(&self, open_elsewhere: u64) -> bool {
        self.total().saturating_add(open_elsewhere) > self.approval.threshold
    }
}

/// The deterministic test cards of the simulated provider. Each one always behaves
/// the same way, so the UI and the tests can drive every path of the order saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// `card_approve`: approved at once.
    Approve,
    /// `card_decline`: declined; a permanent business failure, never worth a retry.
    Decline,
    /// `card_transient_N` (N = 1..=9): the provider fails transiently for the first N
    /// attempts at an order, then approves.
    Transient(u32),
    /// `card_slow`: approved after a delay (`PAYMENT_SLOW_MS`).
    Slow,
}

impl FromStr for PaymentMethod {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "card_approve" => Ok(Self::Approve),
            "card_decline" => Ok(Self::Decline),
            "card_slow" => Ok(Self::Slow),
            _ => raw
                .strip_prefix("card_transient_")
                .and_then(|n| n.parse().ok())
                .filter(|n| (1..=9).contains(n))
                .map(Self::Transient)
                .ok_or_else(|| {
                    format!(
                        "Unknown payment method {raw:?}: use card_approve, card_decline, \
                         card_transient_1 to card_transient_9, or card_slow."
                    )
                }),
        }
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Approve => f.write_str("card_approve"),
            Self::Decline => f.write_str("card_decline"),
            Self::Transient(n) => write!(f, "card_transient_{n}"),
            Self::Slow => f.write_str("card_slow"),
        }
    }
}

impl Serialize for PaymentMethod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PaymentMethod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether the saga holds the order's stock, once its reservation step has ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReservationOutcome {
    pub held: bool,
    /// When not held because a service refused: its problem type, e.g. `out-of-stock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// When not held: why, as the saga's timeline says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The steps of the saga, forward then compensating, in the order they can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    CreateOrder,
    ReserveInventory,
    AwaitApproval,
    ChargePayment,
    ConfirmOrder,
    NotifyCustomer,
    RefundPayment,
    ReleaseInventory,
    CancelOrder,
    NotifyFailure,
}

impl StepName {
    /// Every step: the forward ones in the saga's order, then the compensations.
    pub const ALL: [StepName; 10] = [
        Self::CreateOrder,
        Self::ReserveInventory,
        Self::AwaitApproval,
        Self::ChargePayment,
        Self::ConfirmOrder,
        Self::NotifyCustomer,
        Self::RefundPayment,
        Self::ReleaseInventory,
        Self::CancelOrder,
        Self::NotifyFailure,
    ];

    /// The name it is serialized as, e.g. `reserve_inventory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateOrder => "create_order",
            Self::ReserveInventory => "reserve_inventory",
            Self::AwaitApproval => "await_approval",
            Self::ChargePayment => "charge_payment",
            Self::ConfirmOrder => "confirm_order",
            Self::NotifyCustomer => "notify_customer",
            Self::RefundPayment => "refund_payment",
            Self::ReleaseInventory => "release_inventory",
            Self::CancelOrder => "cancel_order",
            Self::NotifyFailure => "notify_failure",
        }
    }

    pub fn is_compensation(self) -> bool {
        matches!(
            self,
            Self::RefundPayment | Self::ReleaseInventory | Self::CancelOrder | Self::NotifyFailure
        )
    }

    /// A short human title, e.g. for notifications.
    pub fn title(self) -> &'static str {
        match self {
            Self::CreateOrder => "Create order",
            Self::ReserveInventory => "Reserve inventory",
            Self::AwaitApproval => "Await approval",
            Self::ChargePayment => "Charge payment",
            Self::ConfirmOrder => "Confirm order",
            Self::NotifyCustomer => "Notify customer",
            Self::RefundPayment => "Refund payment",
            Self::ReleaseInventory => "Release inventory",
            Self::CancelOrder => "Cancel order",
            Self::NotifyFailure => "Notify customer of failure",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    /// The last attempt failed transiently; Temporal will retry it.
    Retrying,
    /// Waiting for a signal or a timer (approval).
    Waiting,
    Completed,
    Failed,
    /// Not needed for this order (e.g. no approval below the threshold).
    Skipped,
}

impl StepStatus {
    /// The name it is serialized as, e.g. `retrying`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepRecord {
    pub name: StepName,
    pub status: StepStatus,
    /// Attempts made so far (activity attempts for service calls).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The review step, once a reviewer decided it: who (`finished_at` says when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Decider>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SagaPhase {
    Running,
    AwaitingApproval,
    Compensating,
    Completed,
    Cancelled,
}

impl SagaPhase {
    /// The name it is serialized as, and the value of the phase search attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::AwaitingApproval => "AWAITING_APPROVAL",
            Self::Compensating => "COMPENSATING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// How a saga ended, by cause: the value of [`OUTCOME_SEARCH_ATTRIBUTE`] (but
/// `Completed`, which is never stored). The causes are few and fixed, so that they can
/// be counted; the order keeps the reason in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SagaOutcome {
    /// Every step done.
    Completed,
    /// Compensated: the card was declined.
    PaymentDeclined,
    /// Compensated: the stock was not there.
    OutOfStock,
    /// Compensated: another business refusal of a service (a customer's limit...).
    Refused,
    /// Compensated: a step failed for good, its retries spent (a service down too long).
    StepFailed,
    /// Compensated: a person decided (the customer or an operator cancelled, a reviewer
    /// rejected) or the review's deadline passed.
    Decided,
}

impl SagaOutcome {
    pub const ALL: [SagaOutcome; 6] = [
        Self::Completed,
        Self::PaymentDeclined,
        Self::OutOfStock,
        Self::Refused,
        Self::StepFailed,
        Self::Decided,
    ];

    /// The name it is serialized as, and the value of the outcome search attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "COMPLETED",
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::Refused => "REFUSED",
            Self::StepFailed => "STEP_FAILED",
            Self::Decided => "DECIDED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == value)
    }

    /// The cause of a compensation: the service's refusal if there was one, else
    /// whether a person (or the review's deadline) decided or a step gave up.
    pub fn compensated(refusal: Option<Refusal>, decided: bool) -> Self {
        match (refusal, decided) {
            (Some(Refusal::PaymentDeclined), _) => Self::PaymentDeclined,
            (Some(Refusal::OutOfStock), _) => Self::OutOfStock,
            (Some(_), _) => Self::Refused,
            (None, true) => Self::Decided,
            (None, false) => Self::StepFailed,
        }
    }
}

/// Why a running saga needs an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttentionReason {
    /// A compensation has failed a whole round of retries; it keeps retrying.
    CompensationStuck,
}

impl AttentionReason {
    /// The value of the attention search attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CompensationStuck => "COMPENSATION_STUCK",
        }
    }
}

/// A saga's call for an operator: why, at which step, since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attention {
    pub reason: AttentionReason,
    pub step: StepName,
    /// RFC 3339.
    pub since: String,
}

/// What the `status` query returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SagaStatus {
    pub order_id: String,
    /// Whose order this is: callers check it before showing or signalling.
    pub customer_id: String,
    pub phase: SagaPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<StepName>,
    pub steps: Vec<StepRecord>,
    /// While awaiting approval: when the order will be cancelled (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_deadline: Option<String>,
    /// Why the order was cancelled, once it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The customer asked to cancel; the saga stops at its next step and compensates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancel_requested: bool,
    /// Set while the saga needs an operator (its step's record has the last error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
    /// What the saga received and set aside, oldest first (the last few): e.g.
    /// `ignored: invalid approve payload` for a signal whose payload did not decode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Completed,
    Cancelled,
}

/// The saga's result. A cancelled order is a normal business outcome, not a workflow
/// failure: the workflow completes either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SagaResult {
    pub order_id: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests;

#[cfg(feature = "temporal")]
pub mod temporal;
