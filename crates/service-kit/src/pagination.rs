//! Opaque page cursors over DynamoDB's `LastEvaluatedKey`.
//!
//! A cursor is the last key of the previous page, base64url-encoded JSON. Because the
//! client holds it, decoding validates it: only the expected key attributes, with the
//! partition the query is pinned to, so a forged cursor is a 400 and never reaches
//! DynamoDB as a malformed start key.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::dynamo::Item;
use crate::problem::Problem;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// One page of results. `next_cursor` is absent on the last page.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The query string of a paged list: `?limit=..&cursor=..`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Validates the `limit` query parameter.
pub fn limit(requested: Option<u32>) -> Result<i32, Problem> {
    match requested.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit as i32),
        other => Err(Problem::bad_request(format!(
            "`limit` must be between 1 and {MAX_LIMIT}, got {other}."
        ))),
    }
}

pub fn encode_cursor(last_key: Option<&Item>) -> Option<String> {
    let key: BTreeMap<&str, &str> = last_key?
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_s().ok()?.as_str())))
        .collect();
    let json = serde_json::to_vec(&key).ok()?;
    Some(URL_SAFE_NO_PAD.encode(json))
}

/// Decodes a cursor that must hold exactly `attributes`, where each `(name, Some(v))`
/// pins that attribute to `v` (the partition being queried).
pub fn decode_cursor(
    cursor: Option<&str>,
    attributes: &[(&str, Option<&str>)],
) -> Result<Option<Item>, Problem> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || Problem::bad_request("`cursor` is not a cursor returned by this endpoint.");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let key: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if key.len() != attributes.len() {
        return Err(invalid());
    }
    let mut item = Item::new();
    for (name, pinned) in attributes {
        let value = key.get(*name).ok_or_else(invalid)?;
        if value.is_empty() || pinned.is_some_and(|pinned| pinned != value) {
            return Err(invalid());
        }
        item.insert((*name).to_owned(), AttributeValue::S(value.clone()));
    }
    Ok(Some(item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::key;

    const ATTRS: &[(&str, Option<&str>)] = &[("pk", Some("USER#1")), ("sk", None)];

    #[test]
    fn a_cursor_round_trips() {
        let last = key("USER#1", "N#0005");
        let cursor = encode_cursor(Some(&last));
        assert_eq!(
            decode_cursor(cursor.as_deref(), ATTRS).expect("valid"),
            Some(last)
        );
    }

    #[test]
    fn no_last_key_means_no_cursor() {
        assert_eq!(encode_cursor(None), None);
        assert_eq!(decode_cursor(None, ATTRS).expect("valid"), None);
    }

    #[test]
    fn a_cursor_for_another_partition_is_rejected() {
        let cursor = encode_cursor(Some(&key("USER#2", "N#0005")));
        let problem = decode_cursor(cursor.as_deref(), ATTRS).expect_err("pinned");
        assert_eq!(problem.status, 400);
    }

    #[test]
    fn garbage_and_extra_attributes_are_rejected() {
        assert!(decode_cursor(Some("%%%"), ATTRS).is_err());
        assert!(decode_cursor(Some("bm90IGpzb24"), ATTRS).is_err());
        let mut extra = key("USER#1", "N#1");
        extra.insert("other".into(), AttributeValue::S("x".into()));
        assert!(decode_cursor(encode_cursor(Some(&extra)).as_deref(), ATTRS).is_err());
    }

    #[test]
    fn limit_is_bounded() {
        assert_eq!(limit(None).expect("default"), DEFAULT_LIMIT as i32);
        assert_eq!(limit(Some(100)).expect("max"), 100);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
    }
}
