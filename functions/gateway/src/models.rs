//! The shapes of the public API. Service answers are read into these types, so the
//! API is an explicit contract rather than whatever a service happens to return (and
//! fields such as a product's `reserved` count stay internal).

use std::collections::BTreeMap;

use saga_contract::breakers::BreakerState;
use saga_contract::calls::OrderStatus;
use saga_contract::{EventKind, SagaStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use service_kit::failure::ModeName;
use service_kit::json;
use utoipa::ToSchema;

use crate::auth::Role;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<String>,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub description: String,
    /// Unit price in minor units of `currency`.
    pub price: u64,
    pub currency: String,
    /// Units in stock that can be ordered now.
    pub available: u32,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The order service's record is published as it is.
pub use saga_contract::calls::{Order, StatusChange};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An order as the customer follows it: the order record, and the saga's live
/// timeline while it runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderDetail {
    pub order_id: String,
    /// The order's status; `PENDING` until the saga has created it.
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// Present while the saga runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saga: Option<SagaStatus>,
    /// The workflow in the Temporal Web UI, where configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_url: Option<String>,
    /// The order's trace in the trace viewer, where one is configured and the order
    /// was created in a trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// A line of an order that the stock cannot cover, as the catalog has it now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Shortage {
    pub sku: String,
    pub requested: u32,
    pub available: u32,
}

/// A saga that needs an operator, as the attention list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttentionItem {
    pub order_id: String,
    /// The rest is absent for a saga that does not answer (its workflow tasks fail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub reason: saga_contract::AttentionReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<saga_contract::StepName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Since when (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttentionList {
    /// The longest-stuck first.
    pub items: Vec<AttentionItem>,
}

/// An order awaiting review, as the review queue lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewItem {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<saga_contract::OrderLine>,
    pub currency: String,
    pub total: u64,
    /// When the order is cancelled unless reviewed (RFC 3339).
    pub deadline: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewQueue {
    /// The soonest deadline first.
    pub items: Vec<ReviewItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderAccepted {
    pub order_id: String,
    /// Where to follow the order.
    pub status_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// Sequence number in the user's feed: increasing, without gaps.
    pub id: String,
    /// What happened; clients switch on it.
    pub kind: EventKind,
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Details of the event, e.g. `{"step": "charge_payment", "status": "retrying",
    /// "attempts": 2, "error": "..."}` for `order.step`, `{"steps": [...]}` (the steps
    /// the saga ran) for `order.completed` and `order.cancelled`.
    #[serde(default)]
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub data: Map<String, Value>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// Pass as `after` to continue; absent once the page reaches the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
    pub latest_id: String,
    pub unread: u64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(
        max_length = 254,
        pattern = r"^\s*[^\s@\u0000-\u001F\u007F-\u009F]{1,64}@[^\s@.\u0000-\u001F\u007F-\u009F]+(\.[^\s@.\u0000-\u001F\u007F-\u009F]+)+\s*$"
    )]
    pub email: String,
    /// At least 8 characters and at most 1024 bytes.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(value_type = Name)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A password change: the current password, and the new one. No `Debug`: it must
/// never be logged.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 8 characters and at most 1024 bytes, like a registration's.
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// A single-use ticket for `GET /v1/events?ticket=...`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventTicket {
    pub ticket: String,
    /// Seconds within which the ticket must be used.
    pub expires_in: u64,
}

/// At least one of the fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct ProfileUpdate {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present"
    )]
    #[schema(nullable = false, value_type = Name)]
    pub name: Option<String>,
    /// Line breaks allowed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present"
    )]
    #[schema(
        nullable = false,
        max_length = 500,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub shipping_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderLine {
    #[schema(value_type = Sku)]
    pub sku: String,
    /// At most 100 units of one product, summed over the lines that name it
    /// (`saga_contract::calls::MAX_LINE_QUANTITY`).
    #[serde(deserialize_with = "json::integer")]
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: u32,
}

/// A new order. Prices come from the catalog, never from the client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// 1 to 50 lines (`saga_contract::calls::MAX_ORDER_LINES`).
    #[schema(min_items = 1, max_items = 50)]
    pub lines: Vec<PlaceOrderLine>,
    /// A test card: `card_approve`, `card_decline`, `card_transient_N` (N = 1–9) or
    /// `card_slow`.
    #[schema(pattern = r"^card_(approve|decline|slow|transient_[1-9])$")]
    pub payment_method: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    #[schema(value_type = Sku)]
    pub sku: String,
    #[schema(value_type = Name)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Description)]
    pub description: String,
    /// In minor units of `currency`.
    #[serde(deserialize_with = "json::integer")]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub price: u64,
    /// An ISO 4217 code.
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    #[serde(deserialize_with = "json::integer")]
    #[schema(maximum = 1_000_000)]
    pub available: u32,
}

/// At least one of the fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct ProductChange {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present"
    )]
    #[schema(nullable = false, value_type = Name)]
    pub name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present"
    )]
    #[schema(nullable = false, value_type = Description)]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present_integer"
    )]
    #[schema(nullable = false, minimum = 1, maximum = 1_000_000_000)]
    pub price: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLevel {
    #[serde(deserialize_with = "json::integer")]
    #[schema(maximum = 1_000_000)]
    pub available: u32,
}

/// A service's failure mode: `{"mode": "off"}`, `{"mode": "down"}`,
/// `{"mode": "slow", "delay_ms": 2000}`, `{"mode": "flaky", "failure_rate": 0.5}` or,
/// for payment, `{"mode": "decline"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureMode {
    pub mode: ModeName,
    /// `slow` only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present_integer"
    )]
    #[schema(nullable = false, maximum = 30_000)]
    pub delay_ms: Option<u64>,
    /// `flaky` only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json::present"
    )]
    #[schema(nullable = false, exclusive_minimum = 0, maximum = 1)]
    pub failure_rate: Option<f64>,
}

/// The circuit breaker of the saga workers for one service: each worker keeps its own,
/// and this is the least healthy of those the running workers report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Breaker {
    pub service: String,
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// While not closed: milliseconds until the next probe may go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// How often the breakers of the running workers have opened for this service.
    pub times_opened: u64,
}

// Schemas of the text fields several bodies share: the rules the services apply
// (`service_kit::validate`), stated once for the document.

/// One line of text: not blank, no control characters, at most 100 characters.
#[derive(ToSchema)]
#[schema(
    max_length = 100,
    pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
)]
#[allow(dead_code)]
pub struct Name(String);

/// Text on one or more lines, at most 2000 characters; blank for none.
#[derive(ToSchema)]
#[schema(
    max_length = 2000,
    pattern = r"^(\s*|[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*)$"
)]
#[allow(dead_code)]
pub struct Description(String);

/// A product's id: 1 to 64 letters, digits, '-', '_' or '.'.
#[derive(ToSchema)]
#[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
#[allow(dead_code)]
pub struct Sku(String);

// The operations page (`routes/operations.rs`).

/// What the operations page charts, read when asked from sources every deployment
/// has: Temporal's visibility and task queue API, and the breaker board's table.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperationsStats {
    /// When these numbers were read (RFC 3339).
    pub at: String,
    /// The sagas that ended in each minute of the window, oldest first, the current
    /// (partial) minute last.
    pub minutes: Vec<MinuteStats>,
    /// The window held more ended sagas than are read at once
    /// (`OPERATIONS_ENDED_LIMIT`): the oldest minutes count only part of them.
    pub truncated: bool,
    /// Sagas running now (visibility's count).
    pub running: u64,
    /// Attempts beyond the first, per step, of the sagas running now (the newest
    /// [`OperationsStats::retries_sampled`] of them, from their status query).
    pub retries: Vec<StepRetries>,
    /// How many running sagas `retries` comes from.
    pub retries_sampled: u32,
    pub breakers: Vec<Breaker>,
    pub task_queue: TaskQueueLoad,
}

/// The sagas that ended within one minute, by outcome, and how long they took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MinuteStats {
    /// The minute's start (RFC 3339).
    pub start: String,
    pub completed: u32,
    /// Compensated: the card was declined.
    pub payment_declined: u32,
    /// Compensated: out of stock.
    pub out_of_stock: u32,
    /// Compensated: another business refusal (a customer's limit...).
    pub refused: u32,
    /// Compensated: a step gave up (a service down beyond its retries).
    pub step_failed: u32,
    /// Compensated: cancelled, rejected in review, or the review's deadline passed.
    pub decided: u32,
    /// Ended by Temporal, not by the saga: terminated, failed or timed out.
    pub ended_otherwise: u32,
    /// The median time from start to end of the sagas that ended this minute (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<u64>,
    /// The 95th percentile (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepRetries {
    pub step: saga_contract::StepName,
    pub retries: u32,
}

/// The saga task queue, as `DescribeTaskQueue` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskQueueLoad {
    pub name: String,
    pub workflow: QueueLoad,
    pub activity: QueueLoad,
}

/// One kind of task of the queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct QueueLoad {
    /// Tasks waiting for a worker (approximate).
    pub backlog: u64,
    /// How long the oldest has waited (ms).
    pub backlog_age_ms: u64,
    /// Tasks added per second (the last 30 s).
    pub add_rate: f64,
    /// Tasks handed to workers per second (the last 30 s).
    pub dispatch_rate: f64,
    /// Workers polling now.
    pub pollers: u32,
}

/// One second of the load generator: `orders` orders from synthetic customers, their
/// test cards drawn from the `cards` mix. The batch is named by `run` and `second`, so
/// that sending it again places nothing new.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBatch {
    /// The run's id, chosen by the caller: 1 to 32 letters, digits, '-' or '_'.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,32}$")]
    pub run: String,
    /// Which second of the run, from 0: a run lasts at most 60 seconds.
    #[serde(deserialize_with = "json::integer")]
    #[schema(minimum = 0, maximum = 59)]
    pub second: u32,
    /// Orders in this batch (the rate): 1 to 10.
    #[serde(deserialize_with = "json::integer")]
    #[schema(minimum = 1, maximum = 10)]
    pub orders: u32,
    /// The product each order buys, one unit.
    #[schema(value_type = Sku)]
    pub sku: String,
    /// The mix of test cards: each card's weight (0 to 100; at least one above 0).
    pub cards: BTreeMap<String, u32>,
}

/// What a batch of the load generator did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LoadBatchResult {
    /// Orders whose saga holds the stock or runs (201 or 202 to a checkout).
    pub placed: u32,
    /// Orders whose saga stopped before holding the stock (out of stock, a limit).
    pub refused: u32,
    /// Orders not placed because the load generator's rate was spent.
    pub rate_limited: u32,
    /// Orders that failed otherwise (a service or Temporal unavailable).
    pub failed: u32,
    /// The ids of the orders placed or refused.
    pub order_ids: Vec<String>,
}
