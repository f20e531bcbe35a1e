//! The inventory operations, over the [`InventoryStore`].

use saga_contract::Refusal;
use service_kit::Problem;
use service_kit::dynamo::{Item, StoreError};
use service_kit::outcome::Outcome;

use crate::domain::{Product, ProductUpdate, Reservation, ReservationStatus, StockLine};
use crate::store::{CreateOutcome, InventoryStore, MoveOutcome, ReserveOutcome, Shortage};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{0}")]
    Invalid(String),
    #[error("no product {0}")]
    ProductNotFound(String),
    #[error("product {0} exists with other details")]
    ProductExists(String),
    #[error("no reservation for order {0}")]
    ReservationNotFound(String),
    #[error("order {0} already has a different reservation")]
    ReservationMismatch(String),
    #[error("reservation for order {} is {:?}", .0.order_id, .0.status)]
    WrongStatus(Reservation),
    #[error("unknown products {0:?}")]
    UnknownProducts(Vec<String>),
    #[error("out of stock")]
    OutOfStock(Vec<Shortage>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InventoryError> for Problem {
    fn from(error: InventoryError) -> Self {
        match error {
            InventoryError::Invalid(detail) => Problem::invalid(detail),
            InventoryError::ProductNotFound(sku) => {
                Problem::not_found(format!("There is no product {sku:?}."))
            }
            InventoryError::ProductExists(sku) => Problem::conflict(
                "product-exists",
                "Product exists",
                format!("A product {sku:?} already exists with other details; update it instead."),
            ),
            InventoryError::ReservationNotFound(order_id) => {
                Problem::not_found(format!("There is no reservation for order {order_id:?}."))
            }
            InventoryError::ReservationMismatch(order_id) => Problem::refused(
                Refusal::ReservationMismatch,
                format!("Order {order_id:?} already holds a reservation for other lines."),
            ),
            InventoryError::WrongStatus(reservation) => wrong_status(reservation),
            InventoryError::UnknownProducts(skus) => unknown_products(skus),
            InventoryError::OutOfStock(shortages) => out_of_stock(shortages),
            InventoryError::Store(error) => error.into(),
        }
    }
}

fn wrong_status(reservation: Reservation) -> Problem {
    let (refusal, detail) = match reservation.status {
        ReservationStatus::Released => (
            Refusal::ReservationReleased,
            "The reservation for this order was released.",
        ),
        ReservationStatus::Committed => (
            Refusal::ReservationCommitted,
            "The reservation for this order was committed; its stock is sold.",
        ),
        ReservationStatus::Reserved => (
            Refusal::ReservationActive,
            "The reservation for this order is still active.",
        ),
    };
    Problem::refused(refusal, detail).with_extension("reservation", reservation)
}

fn unknown_products(skus: Vec<String>) -> Problem {
    Problem::refused(
        Refusal::UnknownProduct,
        format!("There is no product {}.", skus.join(", ")),
    )
    .with_extension("skus", skus)
}

fn out_of_stock(shortages: Vec<Shortage>) -> Problem {
    let detail = shortages
        .iter()
        .map(|s| {
            format!(
                "{}: {} requested, {} available",
                s.sku, s.requested, s.available
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Problem::refused(Refusal::OutOfStock, detail).with_extension("shortages", shortages)
}

/// Adds a product. Repeating the creation returns the product as it is now; creating
/// a SKU that exists with other details is refused.
pub async fn create_product(
    store: &InventoryStore,
    product: Product,
) -> Result<(Product, Outcome), InventoryError> {
    match store.create_product(&product).await? {
        CreateOutcome::Created(product) => Ok((product, Outcome::Created)),
        CreateOutcome::Exists(existing)
            if existing.name == product.name
                && existing.description == product.description
                && existing.price == product.price
                && existing.currency == product.currency =>
        {
            Ok((existing, Outcome::Existing))
        }
        CreateOutcome::Exists(existing) => Err(InventoryError::ProductExists(existing.sku)),
    }
}

pub async fn get_product(store: &InventoryStore, sku: &str) -> Result<Product, InventoryError> {
    store
        .get_product(sku)
        .await?
        .ok_or_else(|| InventoryError::ProductNotFound(sku.to_owned()))
}

pub async fn list_products(
    store: &InventoryStore,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<Product>, Option<Item>), InventoryError> {
    Ok(store.list_products(limit, start).await?)
}

pub async fn update_product(
    store: &InventoryStore,
    sku: &str,
    update: &ProductUpdate,
) -> Result<Product, InventoryError> {
    store
        .update_product(sku, update, &service_kit::clock::now())
        .await?
        .ok_or_else(|| InventoryError::ProductNotFound(sku.to_owned()))
}

pub async fn set_available(
    store: &InventoryStore,
    sku: &str,
    available: u32,
) -> Result<Product, InventoryError> {
    store
        .set_available(sku, available, &service_kit::clock::now())
        .await?
        .ok_or_else(|| InventoryError::ProductNotFound(sku.to_owned()))
}

/// Reserves every line for the order, or nothing. Repeating it returns the same
/// reservation and takes no more stock, also once it is committed (a saga run again
/// from its start by a Temporal reset); a released one is refused.
pub async fn reserve(
    store: &InventoryStore,
    order_id: &str,
    lines: Vec<StockLine>,
) -> Result<(Reservation, Outcome), InventoryError> {
    let now = service_kit::clock::now();
    let reservation = Reservation {
        order_id: order_id.to_owned(),
        lines,
        status: ReservationStatus::Reserved,
        created_at: now.clone(),
        updated_at: now,
    };
    match store.reserve(&reservation).await? {
        ReserveOutcome::Reserved(reservation) => Ok((reservation, Outcome::Created)),
        // Released (or closed before it was ever made): the order's stock is back or
        // was never taken, and the order is closed for reservations.
        ReserveOutcome::Exists(existing) if existing.status == ReservationStatus::Released => {
            Err(InventoryError::WrongStatus(existing))
        }
        // Held or sold already: the effect this reservation asks for exists.
        ReserveOutcome::Exists(existing) if existing.lines == reservation.lines => {
            Ok((existing, Outcome::Existing))
        }
        ReserveOutcome::Exists(_) => Err(InventoryError::ReservationMismatch(order_id.to_owned())),
        ReserveOutcome::UnknownProducts(skus) => Err(InventoryError::UnknownProducts(skus)),
        ReserveOutcome::Insufficient(shortages) => Err(InventoryError::OutOfStock(shortages)),
    }
}

pub async fn get_reservation(
    store: &InventoryStore,
    order_id: &str,
) -> Result<Reservation, InventoryError> {
    store
        .get_reservation(order_id)
        .await?
        .ok_or_else(|| InventoryError::ReservationNotFound(order_id.to_owned()))
}

/// Puts the order's stock back, once. Safe to call for an order that never reserved.
pub async fn release(
    store: &InventoryStore,
    order_id: &str,
) -> Result<Reservation, InventoryError> {
    moved(
        order_id,
        store.release(order_id, &service_kit::clock::now()).await?,
    )
}

/// Marks the order's stock as sold, once.
pub async fn commit(store: &InventoryStore, order_id: &str) -> Result<Reservation, InventoryError> {
    moved(
        order_id,
        store.commit(order_id, &service_kit::clock::now()).await?,
    )
}

/// Marks the order's stock as sold, once, for a caller that names the reservation's
/// `lines` (the saga): one write when the reservation is as expected, which is the
/// common case. Committed already with these lines is done; other lines are refused.
pub async fn commit_lines(
    store: &InventoryStore,
    order_id: &str,
    lines: Vec<StockLine>,
) -> Result<(), InventoryError> {
    let now = service_kit::clock::now();
    if store.commit_lines(order_id, &lines, &now).await? {
        return Ok(());
    }
    match store.get_reservation(order_id).await? {
        None => Err(InventoryError::ReservationNotFound(order_id.to_owned())),
        Some(existing) if existing.lines != lines && !existing.lines.is_empty() => {
            Err(InventoryError::ReservationMismatch(order_id.to_owned()))
        }
        Some(existing) => match existing.status {
            ReservationStatus::Committed => Ok(()),
            ReservationStatus::Released => Err(InventoryError::WrongStatus(existing)),
            // Still RESERVED with these lines: a product's condition failed, or a
            // concurrent move; the reading move settles it.
            ReservationStatus::Reserved => commit(store, order_id).await.map(drop),
        },
    }
}

fn moved(order_id: &str, outcome: MoveOutcome) -> Result<Reservation, InventoryError> {
    match outcome {
        MoveOutcome::Done(reservation) => Ok(reservation),
        MoveOutcome::WrongStatus(reservation) => Err(InventoryError::WrongStatus(reservation)),
        MoveOutcome::NotFound => Err(InventoryError::ReservationNotFound(order_id.to_owned())),
    }
}
