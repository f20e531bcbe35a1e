//! Notifications, independent of storage and HTTP.

pub use saga_contract::EventKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One entry of a user's feed. Ids are the feed's sequence numbers ("1", "2", ...):
/// they increase with every notification and have no gaps, so "everything after id N"
/// is exactly what a client that saw N has missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    /// The caller's idempotency key: recording the same key twice records once.
    pub key: String,
    /// What happened, e.g. `order.completed`; clients switch on it.
    pub kind: EventKind,
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Structured detail for clients (e.g. the saga step that changed).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
}

impl Notification {
    /// True when `other` records the same event: the same kind about the same order.
    /// Its text and data may differ, as they do when a saga that a Temporal reset ran
    /// again reports the same step at another time: that is the event recorded
    /// already, not a new one.
    pub fn same_event(&self, other: &Notification) -> bool {
        self.kind == other.kind && self.order_id == other.order_id
    }
}

/// Parses a notification id (a positive sequence number).
pub fn parse_seq(raw: &str, field: &str) -> Result<u64, String> {
    match raw.parse::<u64>() {
        Ok(seq) if raw == seq.to_string() => Ok(seq),
        _ => Err(format!(
            "`{field}` must be a notification id such as \"42\"."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_numbers() {
        assert_eq!(parse_seq("0", "after"), Ok(0));
        assert_eq!(parse_seq("42", "after"), Ok(42));
        for bad in ["", "-1", "042", "4.2", "x", "+1"] {
            assert!(parse_seq(bad, "after").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_event_is_the_same_kind_about_the_same_order_whatever_it_says() {
        let a = Notification {
            id: "1".into(),
            user_id: "u".into(),
            key: "k".into(),
            kind: EventKind::OrderCompleted,
            title: "Done".into(),
            body: String::new(),
            order_id: Some("o-1".into()),
            data: Map::new(),
            created_at: "t1".into(),
            read_at: None,
        };
        let b = Notification {
            id: "2".into(),
            created_at: "t2".into(),
            read_at: Some("t3".into()),
            ..a.clone()
        };
        assert!(a.same_event(&b));
        let rerun = Notification {
            title: "Done again".into(),
            body: "at another time".into(),
            data: Map::from_iter([("at".to_owned(), "t9".into())]),
            ..a.clone()
        };
        assert!(a.same_event(&rerun));
        for other in [
            Notification {
                kind: EventKind::OrderCancelled,
                ..a.clone()
            },
            Notification {
                order_id: Some("o-2".into()),
                ..a.clone()
            },
        ] {
            assert!(!a.same_event(&other));
        }
    }
}
