//! Where products and reservations live. The table holds:
//! - `PRODUCT#<sku> / PRODUCT`: a product and its stock, also in the `catalog` index
//!   (`gsi1pk = CATALOG`, `gsi1sk = <sku>`) for listing;
//! - `RESERVATION#<order id> / RESERVATION`: the stock held for one order.
//!
//! Every stock movement is one transaction that changes the reservation's status and
//! the products' counters together, each write conditional on the state it expects, so
//! stock moves exactly once however often a request is repeated or raced.
//!
//! One store, and no trait over it (why: `service_kit::dynamo`); the domain rules that
//! need no storage are unit-tested in `domain.rs`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use service_kit::dynamo::{self, Inserted, Item, StoreError, n, s};

use crate::domain::{Product, ProductUpdate, Reservation};

pub const CATALOG_INDEX: &str = "catalog";
pub const CATALOG_PARTITION: &str = "CATALOG";
const PRODUCT: &str = "PRODUCT";
const RESERVATION: &str = "RESERVATION";

/// A line that could not be reserved because too little is available.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shortage {
    pub sku: String,
    pub requested: u32,
    pub available: u32,
}

#[derive(Debug)]
pub enum CreateOutcome {
    Created(Product),
    /// A product with this SKU exists; nothing was written.
    Exists(Product),
}

#[derive(Debug)]
pub enum ReserveOutcome {
    Reserved(Reservation),
    /// A reservation for this order exists; nothing was written.
    Exists(Reservation),
    /// Nothing was written: some lines name unknown products...
    UnknownProducts(Vec<String>),
    /// ...or ask for more than is available.
    Insufficient(Vec<Shortage>),
}

#[derive(Debug)]
pub enum MoveOutcome {
    /// The reservation moved to the requested status (or already had it).
    Done(Reservation),
    /// The reservation has another final status; nothing was written.
    WrongStatus(Reservation),
    NotFound,
}

pub struct InventoryStore {
    client: Client,
    table: String,
}

fn product_pk(sku: &str) -> String {
    format!("PRODUCT#{sku}")
}

fn reservation_pk(order_id: &str) -> String {
    format!("RESERVATION#{order_id}")
}

/// How many times a reservation move re-reads and retries after losing a race to
/// another move of the same reservation. Each loss means the status changed, and a
/// reservation changes status at most twice, so this is never exhausted in practice.
const MOVE_ATTEMPTS: usize = 4;

mod reservations;

impl InventoryStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// A product as stored, in the catalog index too (also used to seed tables from
/// outside the service, e.g. LocalStack's init hooks).
pub fn product_item(product: &Product) -> Result<Item, StoreError> {
    let mut item = dynamo::to_item(product, product_pk(&product.sku), PRODUCT)?;
    item.insert("gsi1pk".into(), s(CATALOG_PARTITION));
    item.insert("gsi1sk".into(), s(&product.sku));
    Ok(item)
}

impl InventoryStore {
    pub async fn create_product(&self, product: &Product) -> Result<CreateOutcome, StoreError> {
        Ok(
            match dynamo::put_if_absent(&self.client, &self.table, product_item(product)?).await? {
                Inserted::Created => CreateOutcome::Created(product.clone()),
                Inserted::Existing(existing) => CreateOutcome::Exists(existing),
            },
        )
    }

    pub async fn get_product(&self, sku: &str) -> Result<Option<Product>, StoreError> {
        dynamo::get_consistent(
            &self.client,
            &self.table,
            dynamo::key(product_pk(sku), PRODUCT),
        )
        .await
    }

    /// One page of the catalog in SKU order, and the key to continue from.
    pub async fn list_products(
        &self,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Product>, Option<Item>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(CATALOG_INDEX)
            .key_condition_expression("gsi1pk = :catalog")
            .expression_attribute_values(":catalog", s(CATALOG_PARTITION))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        dynamo::page(output)
    }

    pub async fn update_product(
        &self,
        sku: &str,
        update: &ProductUpdate,
        now: &str,
    ) -> Result<Option<Product>, StoreError> {
        let changes = [
            update.name.as_ref().map(|name| ("name", s(name))),
            update
                .description
                .as_ref()
                .map(|description| ("description", s(description))),
            update.price.map(|price| ("price", n(price))),
        ];
        let key = dynamo::key(product_pk(sku), PRODUCT);
        dynamo::update_existing(&self.client, &self.table, key, now, changes).await
    }

    pub async fn set_available(
        &self,
        sku: &str,
        available: u32,
        now: &str,
    ) -> Result<Option<Product>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(product_pk(sku), PRODUCT)))
            .update_expression("SET available = :available, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":available", n(available))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        dynamo::updated(result)
    }
}
