//! Orders: placed on the saga, answered once its stock is held (or why not), and
//! followed live by their customer, and by nobody else. Decisions about them are in
//! `decisions.rs`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use saga_contract::calls::{MAX_LINE_QUANTITY, MAX_ORDER_LINES, OrderStatus};
use saga_contract::{OrderLine, PaymentMethod, Refusal, ReservationOutcome, SagaInput};
use service_kit::Problem;
use service_kit::extract::{Json, Path, Query};
use service_kit::validate::{MAX_AMOUNT, parse_id};
use sha2::{Digest, Sha256};

use crate::auth::AuthUser;
use crate::downstream::Service;
use crate::models::{Order, OrderAccepted, OrderDetail, OrderPage, PlaceOrder, Product, Shortage};
use crate::openapi::ProblemDoc;
use crate::orders::keys::{Claim, fingerprint};
use crate::orders::saga::Checkout;
use crate::ratelimit::Admission;
use crate::routes::{ApiRoutes, PageParams, Shared, page_query, path_id};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(place_order, list_orders))
        .routes(api_routes!(get_order))
}

/// The order id of a customer's idempotency key: the same key always names the same
/// order, and the saga's workflow id is the order id, so a repeated request cannot
/// start a second saga, however many race. (Keys cannot hold a newline, so the
/// separator keeps user and key apart.)
pub fn order_id_for(user_id: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{user_id}\n{key}").as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("o-{hex}")
}

pub(super) fn status_url(order_id: &str) -> String {
    format!("/v1/orders/{order_id}")
}

/// Places an order: starts its saga and answers once the stock is held (201) or
/// refused (409), or after `CHECKOUT_WAIT_MS` (202); follow it at `status_url` or over
/// the event stream. The `Idempotency-Key` names the order: repeating the request with
/// the same key returns the same order and starts nothing new; the same key with a
/// different request is refused.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", security(("bearer" = [])), request_body = PlaceOrder,
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._-]{1,64}$", description = "1 to 64 letters, digits, '-', '_' or '.', unique per order")),
    responses(
        (status = 201, description = "Placed: the stock is held and the saga goes on", body = OrderAccepted,
            headers(("location" = String, description = "The order's status URL"))),
        (status = 202, description = "Accepted: the saga runs, the stock not yet held (a service is slow or down); follow the order", body = OrderAccepted,
            headers(("location" = String, description = "The order's status URL"))),
        (status = 409, description = "Not placed: `/problems/out-of-stock` with the `shortages`; `/problems/open-order-limit` when the customer has as many open orders as it may (`OPEN_ORDERS_PER_CUSTOMER`, default 10); `/problems/held-units-limit` when its open orders would hold more units than it may (`HELD_UNITS_PER_CUSTOMER`, default 500); or `/problems/order-not-placed` with the saga's reason. The saga has given everything back", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 400, description = "No Idempotency-Key", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid lines, unknown products or payment method, a total above the maximum, or an Idempotency-Key used before for another request", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "`/problems/order-rate-limited`: this customer placed its most orders for now (`ORDER_RATE_PER_MINUTE`, bursts of `ORDER_RATE_BURST`); retry after `Retry-After` seconds", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn place_order(
    State(state): State<Shared>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<PlaceOrder>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<OrderAccepted>,
    ),
    Problem,
> {
    let key = idempotency_key(&headers)?;
    let quantities = validate_lines(&body)?;
    body.payment_method
        .parse::<PaymentMethod>()
        .map_err(Problem::invalid)?;
    let (status, order_id) = place(
        &state,
        &user.id,
        &key,
        quantities,
        body.payment_method,
        OrderRate::PerCustomer,
    )
    .await?;
    let url = status_url(&order_id);
    Ok((
        status,
        [(header::LOCATION, url.clone())],
        Json(OrderAccepted {
            order_id,
            status_url: url,
        }),
    ))
}

/// Whether an order counts against its customer's order rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRate {
    /// A customer's checkout.
    PerCustomer,
    /// The load generator's synthetic customers: its own shared limit bounds them.
    Exempt,
}

/// Places the order `key` of `customer_id` (lines validated, the card a test card): the
/// checkout's one path, for a customer's request and for the load generator alike.
/// Answers 201 (held) or 202 (pending) with the order id, or the problem that refused
/// it (409 with the order id when the saga stopped before holding the stock).
pub async fn place(
    state: &Shared,
    customer_id: &str,
    key: &str,
    quantities: BTreeMap<String, u32>,
    payment_method: String,
    rate: OrderRate,
) -> Result<(StatusCode, String), Problem> {
    let order_id = order_id_for(customer_id, key);
    let fingerprint = fingerprint(&quantities, &payment_method);
    // Everything that can refuse the request comes before the key is claimed: a key is
    // spent only on a request that could start a saga.
    let lines = priced_lines(state, quantities).await?;
    let currency = single_currency(&lines)?;
    let input = SagaInput {
        order_id: order_id.clone(),
        customer_id: customer_id.to_owned(),
        lines: lines.into_iter().map(|(line, _)| line).collect(),
        currency,
        payment_method,
        approval: state.config.approval,
    };
    if input.total() > MAX_AMOUNT {
        return Err(Problem::invalid(format!(
            "The order total must be at most {MAX_AMOUNT} minor units."
        )));
    }
    // Each order is a saga that may hold stock for a review: a customer's orders are
    // limited apart from its requests. Before the key is claimed, so that a refused
    // order is refused again on its retry rather than started. A retry of an order
    // whose key was claimed places nothing new: it is answered whatever the rate (the
    // owner is read only then, not on every order).
    if rate == OrderRate::PerCustomer
        && let Admission::Limited { retry_after_ms } = state
            .orders
            .limiter
            .decide(&format!("orders:{customer_id}"))
            .await
        && state.orders.keys.owner(&order_id).await?.as_deref() != Some(customer_id)
    {
        let seconds = retry_after_ms.div_ceil(1000).max(1);
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "order-rate-limited",
            "Too many orders",
        )
        .with_detail(format!(
            "This account has placed its most orders for now. Retry in {seconds} s."
        ))
        .with_retry_after(seconds));
    }
    let start = match state
        .orders
        .keys
        .claim(customer_id, key, &order_id, &fingerprint)
        .await?
    {
        Claim::Reused => return Err(key_reused()),
        Claim::New => true,
        // A repeat starts the saga only if the first request did not get that far: a
        // saga whose order exists has run, and Temporal may have forgotten it already.
        Claim::Repeat => !order_exists(state, &order_id).await?,
    };
    // The answer waits, within a bound, for the saga to hold the stock or not.
    let wait = state.config.checkout_wait;
    let lines = input.lines.clone();
    let checkout = if start {
        state.orders.sagas.checkout(input, wait).await?
    } else {
        state.orders.sagas.reservation(&order_id, wait).await?
    };
    match checkout {
        Checkout::Held => Ok((StatusCode::CREATED, order_id)),
        Checkout::Pending => Ok((StatusCode::ACCEPTED, order_id)),
        Checkout::NotHeld(outcome) => {
            let problem = not_held(state, &lines, outcome).await;
            Err(problem.with_extension("order_id", &order_id))
        }
    }
}

/// The request's `Idempotency-Key`: required, and shaped like an id.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "idempotency-key-required",
                "Idempotency key required",
            )
            .with_detail("Send an `Idempotency-Key` header, unique per order.")
        })?;
    parse_id(key, "Idempotency-Key").map_err(Problem::bad_request)
}

fn key_reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Idempotency key reused",
    )
    .with_detail(
        "This Idempotency-Key was used for a different order. Use a new key for a new order.",
    )
}

async fn order_exists(state: &Shared, order_id: &str) -> Result<bool, Problem> {
    match state
        .services
        .get::<Order>(Service::ORDER, &format!("/orders/{order_id}"))
        .await
    {
        Ok(_) => Ok(true),
        Err(error) if error.is_not_found() => Ok(false),
        Err(error) => Err(error.into()),
    }
}

fn validate_lines(body: &PlaceOrder) -> Result<BTreeMap<String, u32>, Problem> {
    if body.lines.is_empty() || body.lines.len() > MAX_ORDER_LINES {
        return Err(Problem::invalid(format!(
            "An order has 1 to {MAX_ORDER_LINES} lines."
        )));
    }
    let mut quantities = BTreeMap::new();
    for line in &body.lines {
        let sku = parse_id(&line.sku, "sku").map_err(Problem::invalid)?;
        if line.quantity == 0 || line.quantity > MAX_LINE_QUANTITY {
            return Err(Problem::invalid(format!(
                "The quantity of {sku} must be between 1 and {MAX_LINE_QUANTITY}."
            )));
        }
        let total: &mut u32 = quantities.entry(sku.clone()).or_default();
        *total += line.quantity;
        if *total > MAX_LINE_QUANTITY {
            return Err(Problem::invalid(format!(
                "The quantity of {sku} must be at most {MAX_LINE_QUANTITY}."
            )));
        }
    }
    Ok(quantities)
}

/// The answer to a checkout whose saga stopped before holding the stock: 409
/// `out-of-stock` with the shortages as the catalog has them now, 409
/// `open-order-limit` or `held-units-limit` naming the customer's limit, or 409
/// `order-not-placed` with the saga's reason (already fit for the customer). Either
/// way the order exists, cancelled: the caller gets its `order_id`.
async fn not_held(state: &Shared, lines: &[OrderLine], outcome: ReservationOutcome) -> Problem {
    let reason = outcome
        .reason
        .unwrap_or_else(|| "The order could not be placed.".to_owned());
    match outcome.refusal {
        Some(Refusal::OutOfStock) => {}
        Some(limit @ (Refusal::OpenOrderLimit | Refusal::HeldUnitsLimit)) => {
            return Problem::refused(limit, reason);
        }
        _ => return Problem::conflict("order-not-placed", "Order not placed", reason),
    }
    let reads = lines.iter().map(|line| async move {
        let path = format!("/products/{}", line.sku);
        let product = state
            .services
            .get::<Product>(Service::INVENTORY, &path)
            .await
            .ok()?;
        (product.available < line.quantity).then(|| Shortage {
            sku: line.sku.clone(),
            requested: line.quantity,
            available: product.available,
        })
    });
    let shortages: Vec<Shortage> = futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect();
    Problem::refused(Refusal::OutOfStock, reason).with_extension("shortages", shortages)
}

/// Prices every line from the catalog, concurrently.
async fn priced_lines(
    state: &Shared,
    quantities: BTreeMap<String, u32>,
) -> Result<Vec<(OrderLine, String)>, Problem> {
    let lookups = quantities.keys().map(|sku| {
        let services = &state.services;
        async move {
            (
                sku.clone(),
                services
                    .get::<Product>(Service::INVENTORY, &format!("/products/{sku}"))
                    .await,
            )
        }
    });
    let mut unknown = Vec::new();
    let mut lines = Vec::new();
    for (sku, found) in futures::future::join_all(lookups).await {
        match found {
            Ok(product) => lines.push((
                OrderLine {
                    quantity: quantities[&sku],
                    sku,
                    unit_price: product.price,
                },
                product.currency,
            )),
            Err(error) if error.is_not_found() => unknown.push(sku),
            Err(error) => return Err(error.into()),
        }
    }
    if !unknown.is_empty() {
        return Err(Problem::refused(
            Refusal::UnknownProduct,
            format!("There is no product {}.", unknown.join(", ")),
        )
        .with_extension("skus", unknown));
    }
    Ok(lines)
}

fn single_currency(lines: &[(OrderLine, String)]) -> Result<String, Problem> {
    let mut currencies = lines.iter().map(|(_, currency)| currency);
    let first = currencies.next().cloned().unwrap_or_default();
    if currencies.any(|c| *c != first) {
        return Err(Problem::invalid(
            "All products of an order must be priced in one currency.",
        ));
    }
    Ok(first)
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "A page of orders", body = OrderPage)))]
async fn list_orders(
    State(state): State<Shared>,
    user: AuthUser,
    Query(params): Query<PageParams>,
) -> Result<Json<OrderPage>, Problem> {
    let query = page_query(params.limit, params.cursor.as_deref())?;
    let path = format!("/customers/{}/orders{query}", user.id);
    Ok(Json(state.services.get(Service::ORDER, &path).await?))
}

/// An order with its saga's live timeline (while it runs) and its status history.
#[utoipa::path(get, path = "/v1/orders/{order_id}", tag = "orders", security(("bearer" = [])),
    params(("order_id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The order", body = OrderDetail),
        (status = 404, description = "No such order of the caller's", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_order(
    State(state): State<Shared>,
    user: AuthUser,
    Path(order_id): Path<String>,
) -> Result<Json<OrderDetail>, Problem> {
    let order_id = path_id(&order_id, "order")?;
    check_owner(&state, &user, &order_id).await?;
    let order_path = format!("/orders/{order_id}");
    let (order, saga) = tokio::join!(
        state.services.get::<Order>(Service::ORDER, &order_path),
        state.orders.sagas.running_status(&order_id),
    );
    let order = match order {
        Ok(order) => Some(order),
        Err(error) if error.is_not_found() => None,
        Err(error) => return Err(error.into()),
    };
    Ok(Json(OrderDetail {
        status: order.as_ref().map_or(OrderStatus::Pending, |o| o.status),
        workflow_url: state.config.temporal_ui_url.as_ref().map(|ui| {
            format!(
                "{ui}/namespaces/{}/workflows/{order_id}",
                state.config.temporal_namespace
            )
        }),
        trace_url: order
            .as_ref()
            .and_then(|order| order.trace_id.as_deref())
            .zip(state.config.trace_ui_url.as_deref())
            .map(|(trace_id, ui)| ui.replace("{trace_id}", trace_id)),
        order_id,
        order,
        saga: saga?,
    }))
}

fn not_found() -> Problem {
    Problem::not_found("There is no such order.")
}

/// Answers 404 unless `user` placed `order_id`, before anything about the order is
/// asked of a service or of Temporal. The owner is recorded when the order is placed;
/// orders placed before that record existed are looked up in the order service.
pub(super) async fn check_owner(
    state: &Shared,
    user: &AuthUser,
    order_id: &str,
) -> Result<(), Problem> {
    let owner = match state.orders.keys.owner(order_id).await? {
        Some(owner) => Some(owner),
        None => match state
            .services
            .get::<Order>(Service::ORDER, &format!("/orders/{order_id}"))
            .await
        {
            Ok(order) => Some(order.customer_id),
            Err(error) if error.is_not_found() => None,
            Err(error) => return Err(error.into()),
        },
    };
    // Someone else's order is indistinguishable from no order.
    match owner {
        Some(owner) if owner == user.id => Ok(()),
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests;
