//! WebSocket connections of the AWS WebSocket API, in the gateway's table:
//! - `CONN#<connection id> / CONN`: whose connection it is;
//! - `USER#<user id> / CONN#<connection id>`: a user's connections, for pushing.
//!
//! Both are written and deleted together; both expire with the access token that opened
//! the connection: every push compares `expires_at` and closes an expired connection,
//! and DynamoDB's TTL on `expires_at` removes the records in the end.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use service_kit::dynamo::{self, Item, StoreError, n, s};

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
        let puts = keys(connection_id, user_id).map(|key| {
            let mut item = key;
            item.insert("user_id".into(), s(user_id));
            item.insert("connection_id".into(), s(connection_id));
            item.insert("expires_at".into(), n(expires_at));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()?;
            Ok::<_, StoreError>(TransactWriteItem::builder().put(put).build())
        });
        let [connection, index] = puts;
        dynamo::transact(&self.client, &[connection?, index?]).await?;
        Ok(())
    }

    pub async fn user_of(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .owner_of(connection_id)
            .await?
            .map(|(user_id, _)| user_id))
    }

    /// Whose connection it is, and when the token that opened it expires.
    pub async fn owner_of(&self, connection_id: &str) -> Result<Option<(String, u64)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(format!("CONN#{connection_id}"), "CONN")))
            .send()
            .await?;
        Ok(output.item.and_then(|item| {
            Some((
                item.get("user_id")?.as_s().ok()?.clone(),
                item.get("expires_at")?.as_n().ok()?.parse().ok()?,
            ))
        }))
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
        let deletes = keys(connection_id, &user_id).map(|key| {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .build()?;
            Ok::<_, StoreError>(TransactWriteItem::builder().delete(delete).build())
        });
        let [connection, index] = deletes;
        dynamo::transact(&self.client, &[connection?, index?]).await?;
        Ok(())
    }
}

/// The two items of a connection: its own (found by connection id, when it closes) and
/// its entry under its user (found by user id, when an event is pushed).
fn keys(connection_id: &str, user_id: &str) -> [Item; 2] {
    [
        dynamo::key(format!("CONN#{connection_id}"), "CONN"),
        dynamo::key(format!("USER#{user_id}"), format!("CONN#{connection_id}")),
    ]
}
