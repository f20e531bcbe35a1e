//! The notification operations, over the [`NotificationStore`].

use saga_contract::Refusal;
use service_kit::Problem;
use service_kit::dynamo::StoreError;
use service_kit::outcome::Outcome;

use crate::domain::Notification;
use crate::store::{FeedState, NotificationStore, ReadOutcome, RecordOutcome};

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("idempotency key {0} was used for another notification")]
    KeyReused(String),
    #[error("no notification {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<NotificationError> for Problem {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::KeyReused(key) => Problem::refused(
                Refusal::KeyReused,
                format!(
                    "The key {key:?} already recorded a notification of another kind or order."
                ),
            ),
            NotificationError::NotFound(id) => {
                Problem::not_found(format!("There is no notification {id:?} for this user."))
            }
            NotificationError::Store(error) => error.into(),
        }
    }
}

/// Records a notification once per key; recording the same key again returns the
/// first recording (see [`Notification::same_event`]), and a notification of another
/// kind or order under a used key is refused.
pub async fn record(
    store: &NotificationStore,
    draft: Notification,
) -> Result<(Notification, Outcome), NotificationError> {
    match store.record(&draft).await? {
        RecordOutcome::Recorded(notification) => Ok((notification, Outcome::Created)),
        RecordOutcome::Exists(existing) if existing.same_event(&draft) => {
            Ok((existing, Outcome::Existing))
        }
        RecordOutcome::Exists(_) => Err(NotificationError::KeyReused(draft.key)),
    }
}

/// A page of a user's feed, oldest first, and where the feed stands.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FeedPage {
    pub items: Vec<Notification>,
    /// Pass as `after` to continue; absent once the page reaches the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
    /// The newest id in the feed ("0" when empty).
    pub latest_id: String,
    pub unread: u64,
}

pub async fn list_after(
    store: &NotificationStore,
    user_id: &str,
    after: u64,
    limit: i32,
) -> Result<FeedPage, NotificationError> {
    let items = store.list_after(user_id, after, limit).await?;
    // Read the feed after the items so `latest_id` is never behind what was listed.
    let FeedState { seq, unread } = store.feed(user_id).await?;
    let last_listed = items
        .last()
        .and_then(|n| n.id.parse::<u64>().ok())
        .unwrap_or(after);
    Ok(FeedPage {
        items,
        next_after: (last_listed < seq).then(|| last_listed.to_string()),
        latest_id: seq.to_string(),
        unread,
    })
}

/// Marks a notification read; marking it again changes nothing.
pub async fn mark_read(
    store: &NotificationStore,
    user_id: &str,
    seq: u64,
) -> Result<Notification, NotificationError> {
    match store
        .mark_read(user_id, seq, &service_kit::clock::now())
        .await?
    {
        ReadOutcome::Marked(notification) | ReadOutcome::AlreadyRead(notification) => {
            Ok(notification)
        }
        ReadOutcome::NotFound => Err(NotificationError::NotFound(seq.to_string())),
    }
}
