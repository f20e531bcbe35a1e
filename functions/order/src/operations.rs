//! The order operations, over the [`DynamoOrderStore`].

use saga_contract::Refusal;
use service_kit::Problem;
use service_kit::dynamo::{Item, StoreError};
use service_kit::outcome::Outcome;

use crate::domain::{Order, OrderLine, OrderStatus, StatusChange};
use crate::store::{CreateOutcome, DynamoOrderStore, TransitionOutcome};

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
            OrderError::Store(error) => error.into(),
        }
    }
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

/// Creates a PENDING order. Repeating the same creation returns the order as it is
/// now; the same id with other details is refused.
pub async fn create(
    store: &DynamoOrderStore,
    new: NewOrder,
) -> Result<(Order, Outcome), OrderError> {
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
    };
    match store.create(&order).await? {
        CreateOutcome::Created(order) => Ok((order, Outcome::Created)),
        CreateOutcome::Exists(existing)
            if existing.customer_id == order.customer_id
                && existing.lines == order.lines
                && existing.currency == order.currency =>
        {
            Ok((existing, Outcome::Existing))
        }
        CreateOutcome::Exists(existing) => Err(OrderError::Mismatch(existing.order_id)),
    }
}

pub async fn get(store: &DynamoOrderStore, order_id: &str) -> Result<Order, OrderError> {
    store
        .get(order_id)
        .await?
        .ok_or_else(|| OrderError::NotFound(order_id.to_owned()))
}

pub async fn list_by_customer(
    store: &DynamoOrderStore,
    customer_id: &str,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<Order>, Option<Item>), OrderError> {
    Ok(store.list_by_customer(customer_id, limit, start).await?)
}

/// Moves the order to `to`, through the statuses of `via` first (validated by the
/// caller: a path the state machine allows), in one write. A status the order has had
/// already is success, answered with the order as it is: a retried transition, or a
/// saga run again from its start (a Temporal reset), changes nothing.
pub async fn transition(
    store: &DynamoOrderStore,
    order_id: &str,
    to: OrderStatus,
    via: Vec<OrderStatus>,
    reason: Option<String>,
) -> Result<Order, OrderError> {
    let at = service_kit::clock::now();
    let path: Vec<OrderStatus> = via.into_iter().chain([to]).collect();
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
