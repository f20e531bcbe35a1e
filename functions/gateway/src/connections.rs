//! WebSocket connections of the AWS WebSocket API, in the gateway's table:
//! - `CONN#<connection id> / CONN`: whose connection it is;
//! - `USER#<user id> / CONN#<connection id>`: a user's connections, for pushing.
//!
//! Both are written and deleted together; both expire with the access token that opened
//! the connection: every push compares `expires_at` and closes an expired connection,
//! and DynamoDB's TTL on `expires_at` removes the records in the end.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use service_kit::dynamo::{self, StoreError, n, s};

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

impl Connections {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn remember(
        &self,
        connection_id: &str,
        user_id: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let item = |pk: String, sk: String| {
            let mut item = dynamo::key(pk, sk);
            item.insert("user_id".into(), s(user_id));
            item.insert("connection_id".into(), s(connection_id));
            item.insert("expires_at".into(), n(expires_at));
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(StoreError::from)
        };
        self.client
            .transact_write_items()
            .transact_items(item(format!("CONN#{connection_id}"), "CONN".into())?)
            .transact_items(item(
                format!("USER#{user_id}"),
                format!("CONN#{connection_id}"),
            )?)
            .send()
            .await?;
        Ok(())
    }

    pub async fn user_of(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(format!("CONN#{connection_id}"), "CONN")))
            .send()
            .await?;
        Ok(output
            .item
            .and_then(|item| item.get("user_id")?.as_s().ok().cloned()))
    }

    pub async fn of_user(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
            .expression_attribute_values(":pk", s(format!("USER#{user_id}")))
            .expression_attribute_values(":conn", s("CONN#"))
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

    /// Forgets a connection (closed, or gone when pushed to). Forgetting twice is fine.
    pub async fn forget(&self, connection_id: &str) -> Result<(), StoreError> {
        let Some(user_id) = self.user_of(connection_id).await? else {
            return Ok(());
        };
        let delete = |pk: String, sk: String| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(dynamo::key(pk, sk)))
                .build()
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
                .map_err(StoreError::from)
        };
        self.client
            .transact_write_items()
            .transact_items(delete(format!("CONN#{connection_id}"), "CONN".into())?)
            .transact_items(delete(
                format!("USER#{user_id}"),
                format!("CONN#{connection_id}"),
            )?)
            .send()
            .await?;
        Ok(())
    }
}
