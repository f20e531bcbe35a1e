//! Where orders live: `ORDER#<id> / ORDER`, also in the `by_customer` index
//! (`gsi1pk = CUSTOMER#<customer id>`, `gsi1sk = <created_at>#<order id>`) so a
//! customer's orders list newest first.
//!
//! One store, and no trait over it: every test that exercises these operations runs
//! against DynamoDB Local, which runs wherever the tests do, so a second (in-memory)
//! implementation would be one more thing to keep right without testing anything the
//! real one does not. The domain rules that need no storage are unit-tested in
//! `domain.rs`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use service_kit::dynamo::{self, Inserted, Item, StoreError, s};

use crate::domain::{Order, OrderStatus, StatusChange};

pub const BY_CUSTOMER_INDEX: &str = "by_customer";
const ORDER: &str = "ORDER";

pub fn customer_partition(customer_id: &str) -> String {
    format!("CUSTOMER#{customer_id}")
}

fn order_pk(order_id: &str) -> String {
    format!("ORDER#{order_id}")
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

pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl DynamoOrderStore {
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
        let orders = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(dynamo::from_item)
            .collect::<Result<_, _>>()?;
        Ok((orders, output.last_evaluated_key))
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
