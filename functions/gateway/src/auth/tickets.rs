//! WebSocket tickets. A browser cannot set headers on a WebSocket, and an access token
//! in a URL ends up in proxy and API Gateway logs; so a client first asks for a ticket
//! (an authenticated POST) and opens the socket with it. A ticket is random, works
//! once, and only for [`TICKET_TTL`]; it carries the user and when the access token it
//! was issued against expires, which bounds the socket's life.
//!
//! `TICKET#<SHA-256 of the ticket> / TICKET` in the gateway's table; using it deletes it
//! (conditionally on it being unexpired), so it cannot be used twice, even at once.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use service_kit::dynamo::{self, StoreError, n, s};
use sha2::{Digest, Sha256};

use crate::auth::{AuthUser, now_secs};

/// How long a ticket may wait before it is used.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Who a used ticket was for, and until when their socket may live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub user_id: String,
    /// The expiry of the access token the ticket was issued against (epoch seconds).
    pub session_expires_at: u64,
}

pub struct Tickets {
    client: Client,
    table: String,
}

fn key(ticket: &str) -> dynamo::Item {
    let digest = Sha256::digest(ticket.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    dynamo::key(format!("TICKET#{hex}"), "TICKET")
}

/// 256 random bits from the OS generator, URL-safe.
fn new_ticket() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Tickets {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A new ticket for `user`, valid for [`TICKET_TTL`].
    pub async fn issue(&self, user: &AuthUser) -> Result<String, StoreError> {
        self.issue_valid_for(user, TICKET_TTL).await
    }

    /// A new ticket for `user`, valid for `ttl`.
    pub async fn issue_valid_for(
        &self,
        user: &AuthUser,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let ticket = new_ticket();
        let mut item = key(&ticket);
        item.insert("user_id".into(), s(&user.id));
        item.insert("session_expires_at".into(), n(user.expires_at));
        item.insert("expires_at".into(), n(now_secs() + ttl.as_secs()));
        if !dynamo::insert_new(&self.client, &self.table, item).await? {
            // 128 random bits met another ticket: never in practice, refused anyway.
            return Err(StoreError::Failed("a new ticket's key is taken".into()));
        }
        Ok(ticket)
    }

    /// Uses `ticket`: who it admits, or `None` if it is unknown, used or expired.
    pub async fn admit(&self, ticket: &str) -> Result<Option<Admitted>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(ticket)))
            // DynamoDB's TTL deletes late: the expiry is checked here.
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":now", n(now_secs()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let item = match result {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(error) if dynamo::failed_condition(&error) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let user_id = item.get("user_id").and_then(|v| v.as_s().ok()).cloned();
        let session_expires_at = item
            .get("session_expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok());
        Ok(user_id
            .zip(session_expires_at)
            .map(|(user_id, session_expires_at)| Admitted {
                user_id,
                session_expires_at,
            }))
    }
}
