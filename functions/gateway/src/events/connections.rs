//! WebSocket connections of the AWS WebSocket API, in the gateway's table:
//! - `CONN#<connection id> / CONN`: whose connection it is, and the place it holds;
//! - `USER#<user id> / SLOT#<n>`: one of the user's [`MAX_PER_USER`] places, held by a
//!   connection, for pushing to the user's connections.
//!
//! A connection takes a free place with a conditional write (a place is free when no
//! connection holds it, or when the connection that held it has expired), in the same
//! transaction as its own item: concurrent `$connect`s of one user never get more than
//! the cap, and a `$disconnect` that never came costs the place only until the token
//! expires. Both items expire with the access token that opened the connection: every
//! push compares `expires_at` and closes an expired connection, and DynamoDB's TTL on
//! `expires_at` removes the records in the end.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use service_kit::dynamo::{self, Item, StoreError, n, s};

use crate::auth::now_secs;
use crate::events::sockets::MAX_PER_USER;

pub struct Connections {
    client: Client,
    table: String,
}

/// One of a user's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    /// When the access token the connection was opened with expires (epoch seconds).
    pub expires_at: u64,
}

/// What [`Connections::remember`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    Stored,
    /// The user holds [`MAX_PER_USER`] live connections already.
    Full,
}

impl Connections {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Stores a new connection of `user_id` in the first free place of the user's.
    pub async fn remember(
        &self,
        connection_id: &str,
        user_id: &str,
        expires_at: u64,
    ) -> Result<Remembered, StoreError> {
        for slot in 0..MAX_PER_USER {
            let mut connection = dynamo::key(format!("CONN#{connection_id}"), "CONN");
            connection.insert("user_id".into(), s(user_id));
            connection.insert("slot".into(), n(slot));
            connection.insert("expires_at".into(), n(expires_at));
            let mut place = slot_key(user_id, slot);
            place.insert("connection_id".into(), s(connection_id));
            place.insert("expires_at".into(), n(expires_at));
            // Free, expired, or already this connection's (a retried $connect).
            let free = "attribute_not_exists(pk) OR expires_at <= :now OR connection_id = :id";
            let values = vec![(":now", n(now_secs())), (":id", s(connection_id))];
            let items = [
                put(&self.table, connection, None)?,
                put(&self.table, place, Some((free, values)))?,
            ];
            match dynamo::transact(&self.client, &items).await {
                Ok(_) => return Ok(Remembered::Stored),
                Err(error) if cancelled_by_condition(&error) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Remembered::Full)
    }

    pub async fn user_of(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .owner_of(connection_id)
            .await?
            .map(|(user_id, _)| user_id))
    }

    /// Whose connection it is, and when the token that opened it expires.
    pub async fn owner_of(&self, connection_id: &str) -> Result<Option<(String, u64)>, StoreError> {
        Ok(self
            .record(connection_id)
            .await?
            .map(|record| (record.user_id, record.expires_at)))
    }

    async fn record(&self, connection_id: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(format!("CONN#{connection_id}"), "CONN")))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item.and_then(|item| {
            let number = |name: &str| item.get(name)?.as_n().ok()?.parse::<u64>().ok();
            Some(Record {
                user_id: item.get("user_id")?.as_s().ok()?.clone(),
                slot: usize::try_from(number("slot")?).ok()?,
                expires_at: number("expires_at")?,
            })
        }))
    }

    pub async fn of_user(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
            .expression_attribute_values(":pk", s(format!("USER#{user_id}")))
            .expression_attribute_values(":conn", s("SLOT#"))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| {
                Some(Connection {
                    id: item.get("connection_id")?.as_s().ok()?.clone(),
                    expires_at: item.get("expires_at")?.as_n().ok()?.parse().ok()?,
                })
            })
            .collect())
    }

    /// Forgets a connection (closed, or gone when pushed to), and frees its place unless
    /// another connection has taken it since. Forgetting twice is fine.
    pub async fn forget(&self, connection_id: &str) -> Result<(), StoreError> {
        let Some(record) = self.record(connection_id).await? else {
            return Ok(());
        };
        let connection = delete(
            &self.table,
            dynamo::key(format!("CONN#{connection_id}"), "CONN"),
            None,
        )?;
        let place = delete(
            &self.table,
            slot_key(&record.user_id, record.slot),
            Some(connection_id),
        )?;
        match dynamo::transact(&self.client, &[connection.clone(), place]).await {
            Ok(_) => Ok(()),
            // The place is another connection's now: only this connection's item goes.
            Err(error) if cancelled_by_condition(&error) => {
                dynamo::transact(&self.client, &[connection]).await?;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// A connection's own item.
struct Record {
    user_id: String,
    slot: usize,
    expires_at: u64,
}

/// One of a user's places for a connection.
fn slot_key(user_id: &str, slot: usize) -> Item {
    dynamo::key(format!("USER#{user_id}"), format!("SLOT#{slot}"))
}

fn cancelled_by_condition(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> bool {
    dynamo::cancellation_reasons(error)
        .is_some_and(|reasons| reasons.iter().any(dynamo::is_condition_failure))
}

/// A put of `item` for a transaction, under `condition` with its values.
fn put(
    table: &str,
    item: Item,
    condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = match condition {
        Some((expression, values)) => values.into_iter().fold(
            put.condition_expression(expression),
            |put, (name, value)| put.expression_attribute_values(name, value),
        ),
        None => put,
    };
    Ok(TransactWriteItem::builder().put(put.build()?).build())
}

/// A delete of `key` for a transaction; only while `held_by` holds it, when given.
fn delete(table: &str, key: Item, held_by: Option<&str>) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder().table_name(table).set_key(Some(key));
    let delete = match held_by {
        Some(id) => delete
            .condition_expression("connection_id = :id")
            .expression_attribute_values(":id", s(id)),
        None => delete,
    };
    Ok(TransactWriteItem::builder().delete(delete.build()?).build())
}
