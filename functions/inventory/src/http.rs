//! HTTP routes of the inventory service. The service is private: the gateway decides
//! who may manage the catalog; the order saga reserves, releases and commits.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::{Json, Path, Query};
use service_kit::pagination::{self, Page, PageQuery};
use service_kit::validate::{parse_amount, parse_currency, parse_id, parse_text, path_id};

use saga_contract::calls::ReserveStockBody;

use crate::domain::{MAX_STOCK, Product, ProductUpdate, Reservation, normalise_lines};
use crate::operations;
use crate::store::{CATALOG_PARTITION, InventoryStore};

pub fn routes(store: Arc<InventoryStore>) -> Router {
    Router::new()
        .route("/products", get(list_products).post(create_product))
        .route("/products/{sku}", get(get_product).patch(update_product))
        .route("/products/{sku}/stock", put(set_stock))
        .route(
            "/reservations/{order_id}",
            put(reserve).get(get_reservation),
        )
        .route("/reservations/{order_id}/release", post(release))
        .route("/reservations/{order_id}/commit", post(commit))
        .with_state(store)
}

async fn list_products(
    State(store): State<Arc<InventoryStore>>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<Product>>, Problem> {
    let limit = pagination::limit(query.limit)?;
    let start = pagination::decode_cursor(
        query.cursor.as_deref(),
        &[
            ("pk", None),
            ("sk", None),
            ("gsi1pk", Some(CATALOG_PARTITION)),
            ("gsi1sk", None),
        ],
    )?;
    let (items, last_key) = operations::list_products(store.as_ref(), limit, start).await?;
    Ok(Json(Page {
        items,
        next_cursor: pagination::encode_cursor(last_key.as_ref()),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProductBody {
    sku: String,
    name: String,
    #[serde(default)]
    description: String,
    price: u64,
    currency: String,
    available: u32,
}

async fn create_product(
    State(store): State<Arc<InventoryStore>>,
    Json(body): Json<NewProductBody>,
) -> Result<(StatusCode, Json<Product>), Problem> {
    let now = service_kit::clock::now();
    let product = Product {
        sku: parse_id(&body.sku, "sku").map_err(Problem::invalid)?,
        name: parse_text(&body.name, "name", 100, false).map_err(Problem::invalid)?,
        description: description(&body.description)?,
        price: parse_amount(body.price, "price").map_err(Problem::invalid)?,
        currency: parse_currency(&body.currency).map_err(Problem::invalid)?,
        available: stock(body.available)?,
        reserved: 0,
        created_at: now.clone(),
        updated_at: now,
    };
    let (product, outcome) = operations::create_product(store.as_ref(), product).await?;
    Ok(outcome.reply(product))
}

const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A blank description is no description; the length bound holds either way.
fn description(raw: &str) -> Result<String, Problem> {
    if raw.trim().is_empty() && raw.chars().count() <= MAX_DESCRIPTION_CHARS {
        return Ok(String::new());
    }
    parse_text(raw, "description", MAX_DESCRIPTION_CHARS, true).map_err(Problem::invalid)
}

fn stock(available: u32) -> Result<u32, Problem> {
    if available > MAX_STOCK {
        return Err(Problem::invalid(format!(
            "`available` must be at most {MAX_STOCK}."
        )));
    }
    Ok(available)
}

async fn get_product(
    State(store): State<Arc<InventoryStore>>,
    Path(sku): Path<String>,
) -> Result<Json<Product>, Problem> {
    let sku = path_id(&sku, "sku")?;
    Ok(Json(operations::get_product(store.as_ref(), &sku).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProductBody {
    name: Option<String>,
    description: Option<String>,
    price: Option<u64>,
}

async fn update_product(
    State(store): State<Arc<InventoryStore>>,
    Path(sku): Path<String>,
    Json(body): Json<UpdateProductBody>,
) -> Result<Json<Product>, Problem> {
    let sku = path_id(&sku, "sku")?;
    let update = ProductUpdate {
        name: body
            .name
            .map(|name| parse_text(&name, "name", 100, false))
            .transpose()
            .map_err(Problem::invalid)?,
        description: body.description.as_deref().map(description).transpose()?,
        price: body
            .price
            .map(|price| parse_amount(price, "price"))
            .transpose()
            .map_err(Problem::invalid)?,
    };
    if update.is_empty() {
        return Err(Problem::invalid(
            "Give at least one of `name`, `description` and `price`.",
        ));
    }
    Ok(Json(
        operations::update_product(store.as_ref(), &sku, &update).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockBody {
    available: u32,
}

/// Sets the units available for reservation (units held by reservations are apart).
async fn set_stock(
    State(store): State<Arc<InventoryStore>>,
    Path(sku): Path<String>,
    Json(body): Json<StockBody>,
) -> Result<Json<Product>, Problem> {
    let sku = path_id(&sku, "sku")?;
    let available = stock(body.available)?;
    Ok(Json(
        operations::set_available(store.as_ref(), &sku, available).await?,
    ))
}

/// 201 with the new reservation, 200 with the same one when repeated.
async fn reserve(
    State(store): State<Arc<InventoryStore>>,
    Path(order_id): Path<String>,
    Json(body): Json<ReserveStockBody>,
) -> Result<(StatusCode, Json<Reservation>), Problem> {
    let order_id = parse_id(&order_id, "order_id").map_err(Problem::invalid)?;
    let lines = normalise_lines(body.lines).map_err(Problem::invalid)?;
    let (reservation, outcome) = operations::reserve(store.as_ref(), &order_id, lines).await?;
    Ok(outcome.reply(reservation))
}

async fn get_reservation(
    State(store): State<Arc<InventoryStore>>,
    Path(order_id): Path<String>,
) -> Result<Json<Reservation>, Problem> {
    let order_id = path_id(&order_id, "order_id")?;
    Ok(Json(
        operations::get_reservation(store.as_ref(), &order_id).await?,
    ))
}

async fn release(
    State(store): State<Arc<InventoryStore>>,
    Path(order_id): Path<String>,
) -> Result<Json<Reservation>, Problem> {
    let order_id = parse_id(&order_id, "order_id").map_err(Problem::invalid)?;
    Ok(Json(operations::release(store.as_ref(), &order_id).await?))
}

/// Without a body (or `null`): reads the reservation, commits it and answers it (200). With the
/// reservation's lines (the saga's way): commits in one write, nothing read, and
/// answers 204, also when they were committed before.
async fn commit(
    State(store): State<Arc<InventoryStore>>,
    Path(order_id): Path<String>,
    body: Option<Json<Option<ReserveStockBody>>>,
) -> Result<axum::response::Response, Problem> {
    let order_id = path_id(&order_id, "order_id")?;
    let Some(body) = body.and_then(|Json(body)| body) else {
        let reservation = operations::commit(store.as_ref(), &order_id).await?;
        return Ok(Json(reservation).into_response());
    };
    let lines = normalise_lines(body.lines).map_err(Problem::invalid)?;
    operations::commit_lines(store.as_ref(), &order_id, lines).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
