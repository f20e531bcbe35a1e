//! Where orders live: `ORDER#<id> / ORDER`, also in the `by_customer` index
//! (`gsi1pk = CUSTOMER#<customer id>`, `gsi1sk = <created_at>#<order id>`) so a
//! customer's orders list newest first.
//!
//! What a customer's open orders hold is one item, `CUSTOMER#<id> / OPEN` (out of the
//! index): the number of open orders, their units and their total, and one attribute
//! per open order (`open#<order id>`) so that counting an order in, or out, happens
//! once however often it is retried. Both are single conditional updates: the limits
//! hold under any number of concurrent creations, with no read first.
//!
//! One store, and no trait over it (why: `service_kit::dynamo`); the domain rules that
//! need no storage are unit-tested in `domain.rs`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use service_kit::dynamo::{self, Conditional, Inserted, Item, StoreError, s};

use crate::domain::{Order, OrderStatus, StatusChange};

pub const BY_CUSTOMER_INDEX: &str = "by_customer";
const ORDER: &str = "ORDER";
const OPEN: &str = "OPEN";

pub fn customer_partition(customer_id: &str) -> String {
    format!("CUSTOMER#{customer_id}")
}

fn order_pk(order_id: &str) -> String {
    format!("ORDER#{order_id}")
}

fn open_key(customer_id: &str) -> Item {
    dynamo::key(customer_partition(customer_id), OPEN)
}

/// The attribute that says an order is counted among its customer's open orders.
fn open_entry(order_id: &str) -> String {
    format!("open#{order_id}")
}

fn open_orders(item: Option<Item>) -> Result<OpenOrders, StoreError> {
    item.map(dynamo::from_item)
        .transpose()
        .map(Option::unwrap_or_default)
}

#[derive(Debug)]
pub enum CreateOutcome {
    Created(Order),
    /// An order with this id exists; nothing was written.
    Exists(Order),
}

#[derive(Debug)]
pub enum TransitionOutcome {
    Moved(Order),
    /// The order was not in any of the expected states; nothing was written.
    Refused(Order),
    NotFound,
}

/// What a customer's open orders hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct OpenOrders {
    #[serde(default)]
    pub orders: u32,
    #[serde(default)]
    pub units: u64,
    #[serde(default)]
    pub total: u64,
}

impl OpenOrders {
    /// What `order` adds.
    pub fn of(order: &Order) -> Self {
        Self {
            orders: 1,
            units: order
                .lines
                .iter()
                .map(|line| u64::from(line.quantity))
                .sum(),
            total: order.total,
        }
    }
}

/// How far one customer's open orders may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerLimits {
    pub open_orders: u32,
    pub held_units: u64,
}

impl Default for CustomerLimits {
    fn default() -> Self {
        Self {
            open_orders: 10,
            held_units: 500,
        }
    }
}

#[derive(Debug)]
pub enum Admission {
    /// The order is counted among the customer's open orders (now, or by an earlier
    /// attempt); `elsewhere` is what the others hold.
    Counted { elsewhere: OpenOrders },
    /// Counting it in would pass a limit; nothing was written. `held` is what the
    /// customer's open orders hold.
    Refused { held: OpenOrders },
}

pub struct OrderStore {
    client: Client,
    table: String,
}

impl OrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl OrderStore {
    pub async fn create(&self, order: &Order) -> Result<CreateOutcome, StoreError> {
        let mut item = dynamo::to_item(order, order_pk(&order.order_id), ORDER)?;
        item.insert("gsi1pk".into(), s(customer_partition(&order.customer_id)));
        item.insert(
            "gsi1sk".into(),
            s(format!("{}#{}", order.created_at, order.order_id)),
        );
        Ok(
            match dynamo::put_if_absent(&self.client, &self.table, item).await? {
                Inserted::Created => CreateOutcome::Created(order.clone()),
                Inserted::Existing(existing) => CreateOutcome::Exists(existing),
            },
        )
    }

    pub async fn get(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        dynamo::get_consistent(
            &self.client,
            &self.table,
            dynamo::key(order_pk(order_id), ORDER),
        )
        .await
    }

    /// One page of a customer's orders, newest first, and the key to continue from.
    pub async fn list_by_customer(
        &self,
        customer_id: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Order>, Option<Item>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_CUSTOMER_INDEX)
            .key_condition_expression("gsi1pk = :customer")
            .expression_attribute_values(":customer", s(customer_partition(customer_id)))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        dynamo::page(output)
    }

    /// Counts `order` among its customer's open orders, within `limits`.
    pub async fn admit(
        &self,
        order: &Order,
        limits: CustomerLimits,
    ) -> Result<Admission, StoreError> {
        let adds = OpenOrders::of(order);
        let Some(room) = limits.held_units.checked_sub(adds.units) else {
            // Alone above the limit: refused without a write, on every attempt.
            return Ok(Admission::Refused {
                held: self.open_orders(&order.customer_id).await?,
            });
        };
        let result = self
            .open_orders_update(order, &adds)
            .update_expression(
                "SET #entry = :total, #orders = if_not_exists(#orders, :zero) + :one, \
                 #units = if_not_exists(#units, :zero) + :units, \
                 #total = if_not_exists(#total, :zero) + :total",
            )
            .condition_expression(
                "attribute_not_exists(#entry) \
                 AND (attribute_not_exists(#orders) OR #orders < :max_orders) \
                 AND (attribute_not_exists(#units) OR #units <= :room)",
            )
            .expression_attribute_values(":zero", dynamo::n(0))
            .expression_attribute_values(":max_orders", dynamo::n(limits.open_orders))
            .expression_attribute_values(":room", dynamo::n(room))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match dynamo::conditional(result)? {
            Conditional::Applied(old) => {
                return Ok(Admission::Counted {
                    elsewhere: open_orders(old)?,
                });
            }
            Conditional::Refused(old) => old,
        };
        let counted = old
            .as_ref()
            .is_some_and(|item| item.contains_key(&open_entry(&order.order_id)));
        let held = open_orders(old)?;
        Ok(if counted {
            // An earlier attempt counted it in: the others hold the rest.
            Admission::Counted {
                elsewhere: OpenOrders {
                    orders: held.orders.saturating_sub(1),
                    units: held.units.saturating_sub(adds.units),
                    total: held.total.saturating_sub(adds.total),
                },
            }
        } else {
            Admission::Refused { held }
        })
    }

    /// Counts `order` out of its customer's open orders, if it was counted in.
    pub async fn discharge(&self, order: &Order) -> Result<(), StoreError> {
        let adds = OpenOrders::of(order);
        let result = self
            .open_orders_update(order, &adds)
            .update_expression(
                "REMOVE #entry SET #orders = #orders - :one, #units = #units - :units, \
                 #total = #total - :total",
            )
            .condition_expression("attribute_exists(#entry)")
            .send()
            .await;
        // Refused: counted out already, or never counted in (refused, or created
        // before the counting began).
        dynamo::conditional(result)?;
        Ok(())
    }

    /// An update of `order`'s customer's open orders by `order`'s own (`:one`, `:units`,
    /// `:total`): its attribute `#entry` and the counters `#orders`, `#units`, `#total`.
    fn open_orders_update(&self, order: &Order, adds: &OpenOrders) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(open_key(&order.customer_id)))
            .expression_attribute_names("#entry", open_entry(&order.order_id))
            .expression_attribute_names("#orders", "orders")
            .expression_attribute_names("#units", "units")
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":one", dynamo::n(1))
            .expression_attribute_values(":units", dynamo::n(adds.units))
            .expression_attribute_values(":total", dynamo::n(adds.total))
    }

    /// What `customer_id`'s open orders hold now.
    pub async fn open_orders(&self, customer_id: &str) -> Result<OpenOrders, StoreError> {
        let item =
            dynamo::get_item_consistent(&self.client, &self.table, open_key(customer_id)).await?;
        open_orders(item)
    }

    /// Moves the order through `changes` (to the last one's status) if it is in one of
    /// `from`, appending them to its history: one write, whatever their number.
    pub async fn transition(
        &self,
        order_id: &str,
        from: &[OrderStatus],
        changes: &[StatusChange],
    ) -> Result<TransitionOutcome, StoreError> {
        let Some(last) = changes.last() else {
            return Err(StoreError::Failed("a transition without a change".into()));
        };
        let mut assignments = vec![
            "#status = :to",
            "updated_at = :at",
            "history = list_append(history, :changes)",
        ];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(order_pk(order_id), ORDER)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", dynamo::to_value(&last.status)?)
            .expression_attribute_values(":at", s(&last.at))
            .expression_attribute_values(":changes", dynamo::to_value(changes)?)
            .return_values(ReturnValue::AllNew);
        let mut allowed = Vec::new();
        for (i, status) in from.iter().enumerate() {
            let placeholder = format!(":from{i}");
            request = request.expression_attribute_values(&placeholder, dynamo::to_value(status)?);
            allowed.push(placeholder);
        }
        if let Some(reason) = &last.reason {
            assignments.push("cancel_reason = :reason");
            request = request.expression_attribute_values(":reason", s(reason));
        }
        let result = request
            .update_expression(format!("SET {}", assignments.join(", ")))
            .condition_expression(format!("#status IN ({})", allowed.join(", ")))
            .send()
            .await;
        match dynamo::updated(result)? {
            Some(order) => Ok(TransitionOutcome::Moved(order)),
            None => Ok(match self.get(order_id).await? {
                Some(order) => TransitionOutcome::Refused(order),
                None => TransitionOutcome::NotFound,
            }),
        }
    }
}
