//! The order operations, over the [`OrderStore`].

use saga_contract::Refusal;
use service_kit::Problem;
use service_kit::dynamo::{Item, StoreError};
use service_kit::outcome::Outcome;

use crate::domain::{Order, OrderLine, OrderStatus, StatusChange};
use crate::store::{
    Admission, CreateOutcome, CustomerLimits, OpenOrders, OrderStore, TransitionOutcome,
};

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("{0}")]
    Invalid(String),
    #[error("no order {0}")]
    NotFound(String),
    #[error("order {0} exists with other details")]
    Mismatch(String),
    #[error("order {} is {:?} and cannot become {:?}", .order.order_id, .order.status, .to)]
    InvalidTransition { order: Box<Order>, to: OrderStatus },
    #[error("the customer's open orders hold {held:?}, the limits are {limits:?}")]
    Limit {
        held: OpenOrders,
        order: OpenOrders,
        limits: CustomerLimits,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OrderError> for Problem {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::Invalid(detail) => Problem::invalid(detail),
            OrderError::NotFound(id) => Problem::not_found(format!("There is no order {id:?}.")),
            OrderError::Mismatch(id) => Problem::refused(
                Refusal::OrderMismatch,
                format!("An order {id:?} already exists with other details."),
            ),
            OrderError::InvalidTransition { order, to } => Problem::refused(
                Refusal::InvalidTransition,
                format!("The order is {:?} and cannot become {to:?}.", order.status),
            )
            .with_extension("current_status", order.status),
            OrderError::Limit {
                held,
                order,
                limits,
            } => limit_problem(held, order, limits),
            OrderError::Store(error) => error.into(),
        }
    }
}

/// The refusal names the limit that would be passed, and what the customer holds.
fn limit_problem(held: OpenOrders, order: OpenOrders, limits: CustomerLimits) -> Problem {
    let problem = if held.orders >= limits.open_orders {
        Problem::refused(
            Refusal::OpenOrderLimit,
            format!(
                "This account has {} open orders, the most it may have at once. Place this \
                 order once one of them completes or is cancelled.",
                held.orders
            ),
        )
    } else {
        Problem::refused(
            Refusal::HeldUnitsLimit,
            format!(
                "This account's open orders would hold {} units, more than the {} it may \
                 hold at once.",
                held.units.saturating_add(order.units),
                limits.held_units
            ),
        )
    };
    problem
        .with_extension("open_orders", held.orders)
        .with_extension("held_units", held.units)
        .with_extension("max_open_orders", limits.open_orders)
        .with_extension("max_held_units", limits.held_units)
}

/// A validated request to create an order.
#[derive(Debug)]
pub struct NewOrder {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total: u64,
    pub currency: String,
}

/// Creates a PENDING order and counts it among its customer's open orders, within
/// `limits`. Repeating the same creation returns the order as it is now, counted once;
/// the same id with other details is refused. An order refused by a limit exists,
/// PENDING and not counted: the saga that asked cancels it.
pub async fn create(
    store: &OrderStore,
    new: NewOrder,
    limits: CustomerLimits,
) -> Result<(Order, Outcome, OpenOrders), OrderError> {
    let now = service_kit::clock::now();
    let order = Order {
        order_id: new.order_id,
        customer_id: new.customer_id,
        lines: new.lines,
        currency: new.currency,
        total: new.total,
        status: OrderStatus::Pending,
        cancel_reason: None,
        history: vec![StatusChange {
            status: OrderStatus::Pending,
            at: now.clone(),
            reason: None,
        }],
        created_at: now.clone(),
        updated_at: now,
        trace_id: service_kit::telemetry::trace_id(&tracing::Span::current()),
    };
    let (order, outcome) = match store.create(&order).await? {
        CreateOutcome::Created(order) => (order, Outcome::Created),
        CreateOutcome::Exists(existing)
            if existing.customer_id == order.customer_id
                && existing.lines == order.lines
                && existing.currency == order.currency =>
        {
            (existing, Outcome::Existing)
        }
        CreateOutcome::Exists(existing) => return Err(OrderError::Mismatch(existing.order_id)),
    };
    // A finished order (its saga run again by a reset) is open no more.
    if order.status.is_final() {
        return Ok((order, outcome, OpenOrders::default()));
    }
    match store.admit(&order, limits).await? {
        Admission::Counted { elsewhere } => Ok((order, outcome, elsewhere)),
        Admission::Refused { held } => Err(OrderError::Limit {
            held,
            order: OpenOrders::of(&order),
            limits,
        }),
    }
}

pub async fn get(store: &OrderStore, order_id: &str) -> Result<Order, OrderError> {
    store
        .get(order_id)
        .await?
        .ok_or_else(|| OrderError::NotFound(order_id.to_owned()))
}

pub async fn list_by_customer(
    store: &OrderStore,
    customer_id: &str,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<Order>, Option<Item>), OrderError> {
    Ok(store.list_by_customer(customer_id, limit, start).await?)
}

/// Moves the order to `to`, through the statuses of `via` first (validated by the
/// caller: a path the state machine allows), in one write. A status the order has had
/// already is success, answered with the order as it is: a retried transition, or a
/// saga run again from its start (a Temporal reset), changes nothing. A final status
/// counts the order out of its customer's open orders, on every answer that reports
/// it: a retry after a failure between the two writes completes the second.
pub async fn transition(
    store: &OrderStore,
    order_id: &str,
    to: OrderStatus,
    via: Vec<OrderStatus>,
    reason: Option<String>,
) -> Result<Order, OrderError> {
    let path: Vec<OrderStatus> = via.into_iter().chain([to]).collect();
    let order = move_along(store, order_id, &path, to, reason).await?;
    if order.status.is_final() {
        store.discharge(&order).await?;
    }
    Ok(order)
}

/// [`transition`]'s move, along `path` (its last status `to`).
async fn move_along(
    store: &OrderStore,
    order_id: &str,
    path: &[OrderStatus],
    to: OrderStatus,
    reason: Option<String>,
) -> Result<Order, OrderError> {
    let at = service_kit::clock::now();
    let changes = |from: usize| -> Vec<StatusChange> {
        path[from..]
            .iter()
            .map(|&status| StatusChange {
                status,
                at: at.clone(),
                reason: if status == to { reason.clone() } else { None },
            })
            .collect()
    };
    let passed = |order: &Order| order.history.iter().any(|change| change.status == to);
    let order = match store
        .transition(order_id, path[0].allowed_from(), &changes(0))
        .await?
    {
        TransitionOutcome::Moved(order) => return Ok(order),
        TransitionOutcome::Refused(order) if passed(&order) => return Ok(order),
        TransitionOutcome::Refused(order) => order,
        TransitionOutcome::NotFound => return Err(OrderError::NotFound(order_id.to_owned())),
    };
    // Partway along the path already: the rest of the way from there.
    let Some(at_step) = path[..path.len() - 1]
        .iter()
        .position(|status| *status == order.status)
    else {
        return Err(OrderError::InvalidTransition {
            order: Box::new(order),
            to,
        });
    };
    match store
        .transition(order_id, &[order.status], &changes(at_step + 1))
        .await?
    {
        TransitionOutcome::Moved(order) => Ok(order),
        TransitionOutcome::Refused(order) if passed(&order) => Ok(order),
        TransitionOutcome::Refused(order) => Err(OrderError::InvalidTransition {
            order: Box::new(order),
            to,
        }),
        TransitionOutcome::NotFound => Err(OrderError::NotFound(order_id.to_owned())),
    }
}
