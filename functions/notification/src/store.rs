//! Where notifications live. Each user's feed is one partition `USER#<user id>`:
//! - `FEED`: the last sequence number used and the number of unread notifications;
//! - `N#<sequence, zero-padded>`: one notification;
//! - `KEY#<idempotency key>`: which sequence number a key was recorded under.
//!
//! Recording is one transaction that advances `FEED` from the number it read, claims
//! the key and writes the notification. Notifications therefore become visible in
//! sequence order: whoever can see number N can see every number below it, which is
//! what lets a client catch up after a reconnect with no gap.
//!
//! One store, and no trait over it (why: `service_kit::dynamo`); the domain rules that
//! need no storage are unit-tested in `domain.rs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use service_kit::dynamo::{self, Backoff, StoreError, is_condition_failure, n, s};

use crate::domain::Notification;

const FEED: &str = "FEED";

fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

fn notification_sk(seq: u64) -> String {
    format!("N#{seq:020}")
}

fn key_sk(key: &str) -> String {
    format!("KEY#{key}")
}

#[derive(Debug)]
pub enum RecordOutcome {
    Recorded(Notification),
    /// The key was recorded before; nothing was written.
    Exists(Notification),
}

#[derive(Debug)]
pub enum ReadOutcome {
    Marked(Notification),
    AlreadyRead(Notification),
    NotFound,
}

/// A user's feed as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedState {
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub unread: u64,
}

pub struct NotificationStore {
    client: Client,
    table: String,
    /// The last sequence number this instance saw per user: a guess that saves reading
    /// the feed before each recording. The transaction's condition checks it; a stale
    /// guess costs one retry with a fresh read.
    last_seq: Mutex<HashMap<String, u64>>,
}

/// How many users' sequence numbers an instance remembers before starting afresh.
const REMEMBERED_FEEDS: usize = 10_000;

/// A busy feed makes concurrent recordings retry: each round at least one of them
/// wins, so the bound only has to exceed the number of writers racing on one feed.
const RECORD_ATTEMPTS: u32 = 64;

impl NotificationStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            last_seq: Mutex::new(HashMap::new()),
        }
    }

    fn remembered_seq(&self, user_id: &str) -> Option<u64> {
        self.last_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user_id)
            .copied()
    }

    fn remember_seq(&self, user_id: &str, seq: Option<u64>) {
        let mut last_seq = self.last_seq.lock().unwrap_or_else(|e| e.into_inner());
        match seq {
            Some(seq) => {
                if last_seq.len() >= REMEMBERED_FEEDS {
                    last_seq.clear();
                }
                last_seq.insert(user_id.to_owned(), seq);
            }
            None => {
                last_seq.remove(user_id);
            }
        }
    }

    async fn get(&self, user_id: &str, sk: String) -> Result<Option<dynamo::Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(user_pk(user_id), sk)))
            .consistent_read(true)
            .send()
            .await?
            .item)
    }

    async fn notification(
        &self,
        user_id: &str,
        seq: u64,
    ) -> Result<Option<Notification>, StoreError> {
        self.get(user_id, notification_sk(seq))
            .await?
            .map(dynamo::from_item)
            .transpose()
    }

    async fn recorded_under_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Notification, StoreError> {
        let seq = self
            .get(user_id, key_sk(key))
            .await?
            .and_then(|item| item.get("seq")?.as_n().ok()?.parse().ok())
            .ok_or_else(|| StoreError::Failed(format!("key {key} has no sequence number")))?;
        self.notification(user_id, seq)
            .await?
            .ok_or_else(|| StoreError::Failed(format!("notification {seq} vanished")))
    }
}

impl NotificationStore {
    /// Records `draft` as the user's next notification; its `id` is assigned here.
    pub async fn record(&self, draft: &Notification) -> Result<RecordOutcome, StoreError> {
        let user = &draft.user_id;
        let mut backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
        for _ in 0..RECORD_ATTEMPTS {
            let current = match self.remembered_seq(user) {
                Some(seq) => seq,
                None => self.feed(user).await?.seq,
            };
            let seq = current + 1;
            let notification = Notification {
                id: seq.to_string(),
                ..draft.clone()
            };
            let items = self.record_items(&notification, current)?;
            // A conflict with another transaction is retried inside; a stale guess of
            // the sequence is a condition failure, retried here with a fresh one.
            let result = dynamo::transact(&self.client, &items).await;
            let error = match result {
                Ok(_) => {
                    self.remember_seq(user, Some(seq));
                    return Ok(RecordOutcome::Recorded(notification));
                }
                Err(error) => error,
            };
            // Whatever happened, the guess may be stale now.
            self.remember_seq(user, None);
            match dynamo::cancellation_reasons(&error) {
                Some([_, claimed, _]) if is_condition_failure(claimed) => {
                    return Ok(RecordOutcome::Exists(
                        self.recorded_under_key(user, &draft.key).await?,
                    ));
                }
                // Another recording advanced the feed first.
                Some(reasons) if reasons.iter().any(is_condition_failure) => {
                    backoff.wait().await;
                }
                _ => return Err(error.into()),
            }
        }
        Err(StoreError::Unavailable(format!(
            "the feed of user {user} is too busy to record a notification"
        )))
    }

    /// One recording: the feed's sequence advanced from `current` (the condition that
    /// makes concurrent recordings take turns), the key claimed, the notification put.
    fn record_items(
        &self,
        notification: &Notification,
        current: u64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let user = &notification.user_id;
        let seq = current + 1;
        let advance = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(user_pk(user), FEED)))
            .update_expression("SET seq = :next ADD unread :one")
            .expression_attribute_values(":next", n(seq))
            .expression_attribute_values(":one", n(1));
        let advance = if current == 0 {
            advance.condition_expression("attribute_not_exists(seq)")
        } else {
            advance
                .condition_expression("seq = :current")
                .expression_attribute_values(":current", n(current))
        };
        let claim = dynamo::key(user_pk(user), key_sk(&notification.key))
            .into_iter()
            .chain([("seq".to_owned(), n(seq))])
            .collect();
        Ok(vec![
            TransactWriteItem::builder()
                .update(advance.build()?)
                .build(),
            dynamo::put_new(&self.table, claim)?,
            dynamo::put_new(
                &self.table,
                dynamo::to_item(notification, user_pk(user), notification_sk(seq))?,
            )?,
        ])
    }

    /// Up to `limit` notifications with ids above `after`, oldest first.
    pub async fn list_after(
        &self,
        user_id: &str,
        after: u64,
        limit: i32,
    ) -> Result<Vec<Notification>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":from", s(notification_sk(after.saturating_add(1))))
            .expression_attribute_values(":to", s(notification_sk(u64::MAX)))
            .consistent_read(true)
            .limit(limit)
            .send()
            .await?;
        dynamo::from_items(output.items)
    }

    pub async fn feed(&self, user_id: &str) -> Result<FeedState, StoreError> {
        self.get(user_id, FEED.to_owned())
            .await?
            .map(dynamo::from_item)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    pub async fn mark_read(
        &self,
        user_id: &str,
        seq: u64,
        now: &str,
    ) -> Result<ReadOutcome, StoreError> {
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(user_pk(user_id), notification_sk(seq))))
            .update_expression("SET read_at = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(read_at)")
            .expression_attribute_values(":now", s(now))
            .build()?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(user_pk(user_id), FEED)))
            .update_expression("ADD unread :minus_one")
            .condition_expression("unread > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .build()?;
        let items = [
            TransactWriteItem::builder().update(mark).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        let result = dynamo::transact(&self.client, &items).await;
        match result {
            Ok(_) => match self.notification(user_id, seq).await? {
                Some(notification) => Ok(ReadOutcome::Marked(notification)),
                None => Err(StoreError::Failed(format!("notification {seq} vanished"))),
            },
            Err(error)
                if dynamo::cancellation_reasons(&error)
                    .is_some_and(|r| r.iter().any(is_condition_failure)) =>
            {
                Ok(match self.notification(user_id, seq).await? {
                    Some(notification) => ReadOutcome::AlreadyRead(notification),
                    None => ReadOutcome::NotFound,
                })
            }
            Err(error) => Err(error.into()),
        }
    }
}
