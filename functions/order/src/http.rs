//! HTTP routes of the order service. The service is private: the order saga creates
//! and moves orders; the gateway reads them on behalf of their customers.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use service_kit::Problem;
use service_kit::extract::{Json, Path, Query};
use service_kit::pagination::{self, Page, PageQuery};
use service_kit::validate::{parse_currency, parse_id, parse_text, path_id};

use saga_contract::calls::{ChangeStatusBody, CreateOrderBody, CreatedOrder};

use crate::domain::{Order, OrderStatus, normalise_lines};
use crate::operations::{self, NewOrder};
use crate::store::{CustomerLimits, OrderStore, customer_partition};

/// What the routes work with.
pub struct Orders {
    pub store: OrderStore,
    pub limits: CustomerLimits,
}

pub fn routes(orders: Orders) -> Router {
    Router::new()
        .route("/orders/{order_id}", put(create).get(get_order))
        .route("/orders/{order_id}/status", post(transition))
        .route("/customers/{customer_id}/orders", get(list_by_customer))
        .with_state(Arc::new(orders))
}

/// 201 with the new PENDING order, 200 with the order as it is when repeated; 409
/// `open-order-limit` or `held-units-limit` when the customer's open orders are at a
/// limit.
async fn create(
    State(orders): State<Arc<Orders>>,
    Path(order_id): Path<String>,
    Json(body): Json<CreateOrderBody>,
) -> Result<(StatusCode, Json<CreatedOrder>), Problem> {
    let (lines, total) = normalise_lines(body.lines).map_err(Problem::invalid)?;
    let new = NewOrder {
        order_id: parse_id(&order_id, "order_id").map_err(Problem::invalid)?,
        customer_id: parse_id(&body.customer_id, "customer_id").map_err(Problem::invalid)?,
        lines,
        total,
        currency: parse_currency(&body.currency).map_err(Problem::invalid)?,
    };
    let (order, outcome, elsewhere) = operations::create(&orders.store, new, orders.limits).await?;
    Ok(outcome.reply(CreatedOrder {
        order,
        open_elsewhere: elsewhere.total,
    }))
}

async fn get_order(
    State(orders): State<Arc<Orders>>,
    Path(order_id): Path<String>,
) -> Result<Json<Order>, Problem> {
    let order_id = path_id(&order_id, "order_id")?;
    Ok(Json(operations::get(&orders.store, &order_id).await?))
}

async fn transition(
    State(orders): State<Arc<Orders>>,
    Path(order_id): Path<String>,
    Json(body): Json<ChangeStatusBody>,
) -> Result<Json<Order>, Problem> {
    let order_id = path_id(&order_id, "order_id")?;
    let reason = match (body.status, body.reason) {
        (OrderStatus::Pending, _) => {
            return Err(Problem::invalid("An order cannot move back to PENDING."));
        }
        (OrderStatus::Cancelled, Some(reason)) => {
            Some(parse_text(&reason, "reason", 500, false).map_err(Problem::invalid)?)
        }
        (OrderStatus::Cancelled, None) => {
            return Err(Problem::invalid("Cancelling an order needs a `reason`."));
        }
        (_, Some(_)) => {
            return Err(Problem::invalid("Only CANCELLED takes a `reason`."));
        }
        (_, None) => None,
    };
    let path: Vec<OrderStatus> = body.via.iter().copied().chain([body.status]).collect();
    let passable =
        |status: &OrderStatus| matches!(status, OrderStatus::Reserved | OrderStatus::Paid);
    if !body.via.iter().all(passable) || !OrderStatus::allows(&path) {
        return Err(Problem::invalid(
            "`via` and `status` must be a path the order's state machine allows, e.g. PAID then COMPLETED.",
        ));
    }
    Ok(Json(
        operations::transition(&orders.store, &order_id, body.status, body.via, reason).await?,
    ))
}

/// A customer's orders, newest first.
async fn list_by_customer(
    State(orders): State<Arc<Orders>>,
    Path(customer_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<Order>>, Problem> {
    let customer_id = path_id(&customer_id, "customer_id")?;
    let limit = pagination::limit(query.limit)?;
    let partition = customer_partition(&customer_id);
    let start = pagination::decode_cursor(
        query.cursor.as_deref(),
        &[
            ("pk", None),
            ("sk", None),
            ("gsi1pk", Some(&partition)),
            ("gsi1sk", None),
        ],
    )?;
    let (items, last_key) =
        operations::list_by_customer(&orders.store, &customer_id, limit, start).await?;
    Ok(Json(Page {
        items,
        next_cursor: pagination::encode_cursor(last_key.as_ref()),
    }))
}
