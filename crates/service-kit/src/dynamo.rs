//! The DynamoDB client and the small vocabulary every store uses on top of it.
//!
//! Each service has one store over its table, and no trait over it: every test that
//! exercises a store's operations runs against DynamoDB Local, which runs wherever the
//! tests do, so a second (in-memory) implementation would be one more thing to keep
//! right without testing anything the real one does not.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};

use crate::problem::Problem;

/// A DynamoDB item as the SDK represents it.
pub type Item = HashMap<String, AttributeValue>;

/// Every table keys its items by a generic partition key `pk` and sort key `sk`, so one
/// table can hold a service's several item kinds (see `infra/tables.json`).
pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// Builds a client from the standard AWS configuration chain ([`crate::aws::config`]):
/// region and credentials from the environment or profile, and the endpoint from
/// `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` when set (DynamoDB Local,
/// LocalStack).
pub async fn client_from_env() -> Client {
    let client = Client::new(&crate::aws::config().await);
    crate::startup::mark("dynamodb-client");
    client
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The primary key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// Serialises `record` and adds the primary key (and any extra attributes such as
/// GSI keys) to it.
pub fn to_item<T: serde::Serialize>(
    record: &T,
    pk: impl Into<String>,
    sk: impl Into<String>,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record)
        .map_err(|error| StoreError::Corrupt(format!("cannot serialise item: {error}")))?;
    item.extend(key(pk, sk));
    Ok(item)
}

/// Deserialises a stored item; the key attributes are ignored.
pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|error| StoreError::Corrupt(format!("cannot read stored item: {error}")))
}

/// Deserialises the items of a query's answer, absent when it found none.
pub fn from_items<T: serde::de::DeserializeOwned>(
    items: Option<Vec<Item>>,
) -> Result<Vec<T>, StoreError> {
    items
        .unwrap_or_default()
        .into_iter()
        .map(from_item)
        .collect()
}

/// One page of a query: its items deserialised, and the key to continue from.
pub fn page<T: serde::de::DeserializeOwned>(
    output: QueryOutput,
) -> Result<(Vec<T>, Option<Item>), StoreError> {
    Ok((from_items(output.items)?, output.last_evaluated_key))
}

/// Serialises one value (e.g. an enum) as an attribute value for an expression.
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|error| StoreError::Corrupt(format!("cannot serialise value: {error}")))
}

/// True when a single-item write was refused because its condition did not hold.
pub fn failed_condition<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.code() == Some("ConditionalCheckFailedException"))
}

/// The item an `UpdateItem` with `ReturnValues::AllNew` left behind, or `None` when its
/// condition (typically `attribute_exists(pk)`) did not hold.
pub fn updated<T: serde::de::DeserializeOwned, R: std::fmt::Debug>(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<Option<T>, StoreError> {
    match result {
        Ok(output) => output.attributes.map(from_item).transpose(),
        Err(error) if failed_condition(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// What a conditional `UpdateItem` did.
#[derive(Debug)]
pub enum Conditional {
    /// Applied: the attributes its `ReturnValues` asked for.
    Applied(Option<Item>),
    /// Its condition did not hold; nothing was written. The item as it was, when the
    /// update asked for it (`ReturnValuesOnConditionCheckFailure::AllOld`) and it exists.
    Refused(Option<Item>),
}

/// Sorts a conditional update's outcome: a failed condition is an answer, not an error.
pub fn conditional<R: std::fmt::Debug + Send + Sync + 'static>(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<Conditional, StoreError> {
    match result {
        Ok(output) => Ok(Conditional::Applied(output.attributes)),
        Err(error) if failed_condition(&error) => {
            Ok(Conditional::Refused(match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(refused) => refused.item,
                _ => None,
            }))
        }
        Err(error) => Err(error.into()),
    }
}

/// The item at `key` of `table`, read consistently (a store reads what it just wrote).
pub async fn get_item_consistent(
    client: &Client,
    table: &str,
    key: Item,
) -> Result<Option<Item>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await?;
    Ok(output.item)
}

/// [`get_item_consistent`], as a record.
pub async fn get_consistent<T: serde::de::DeserializeOwned>(
    client: &Client,
    table: &str,
    key: Item,
) -> Result<Option<T>, StoreError> {
    get_item_consistent(client, table, key)
        .await?
        .map(from_item)
        .transpose()
}

/// What [`put_if_absent`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted<T> {
    /// The item was written.
    Created,
    /// An item with that key was there already (a retry, or a concurrent twin): as
    /// stored, for the caller to compare with what it meant to write.
    Existing(T),
}

/// Puts `item` unless an item with its key exists, and then answers that one: the
/// idempotent creation every store performs. The refused put returns the item it found
/// (`ReturnValuesOnConditionCheckFailure`), so a repeat costs one request, not two.
pub async fn put_if_absent<T: serde::de::DeserializeOwned>(
    client: &Client,
    table: &str,
    item: Item,
) -> Result<Inserted<T>, StoreError> {
    let key: Item = [PK, SK]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), item.get(name)?.clone())))
        .collect();
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    let error = match result {
        Ok(_) => return Ok(Inserted::Created),
        Err(error) if failed_condition(&error) => error,
        Err(error) => return Err(error.into()),
    };
    let found = match error.into_service_error() {
        PutItemError::ConditionalCheckFailedException(refused) => refused.item,
        _ => None,
    };
    let existing = match found {
        Some(existing) => Some(existing),
        None => get_item_consistent(client, table, key).await?,
    };
    existing
        .map(from_item)
        .transpose()?
        .map(Inserted::Existing)
        // Items of these tables are never deleted while their key can be reused.
        .ok_or_else(|| StoreError::Failed("an item vanished after a conflicting put".into()))
}

/// Puts `item` unless an item with its key exists: whether it was written. For an item
/// whose twin the caller need not read: a fresh random key, a tombstone.
pub async fn insert_new(client: &Client, table: &str, item: Item) -> Result<bool, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error) if failed_condition(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// A transaction element that puts `item` unless an item with its key exists.
pub fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Sets `updated_at = now` and each of `changes` (attribute, value; `None` leaves an
/// attribute as it is) on the item at `key`, if there is one: the item as updated, or
/// `None` when there is no such item.
pub async fn update_existing<'a, T: serde::de::DeserializeOwned>(
    client: &Client,
    table: &str,
    key: Item,
    now: &str,
    changes: impl IntoIterator<Item = Option<(&'a str, AttributeValue)>>,
) -> Result<Option<T>, StoreError> {
    let mut assignments = vec!["updated_at = :now".to_owned()];
    let mut request = client
        .update_item()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":now", s(now))
        .return_values(ReturnValue::AllNew);
    for (attribute, value) in changes.into_iter().flatten() {
        // Every attribute by an alias: some names (`name`) are reserved words.
        assignments.push(format!("#{attribute} = :{attribute}"));
        request = request
            .expression_attribute_names(format!("#{attribute}"), attribute)
            .expression_attribute_values(format!(":{attribute}"), value);
    }
    let result = request
        .update_expression(format!("SET {}", assignments.join(", ")))
        .send()
        .await;
    updated(result)
}

/// Failures of the storage layer that are not business outcomes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, connection failures, DynamoDB 5xx, transaction conflicts
    /// that outlived our retries: a retry later may well succeed.
    #[error("DynamoDB is temporarily unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, a missing table, bad credentials.
    #[error("DynamoDB request failed: {0}")]
    Failed(String),
    /// A stored item that does not deserialise: a bug or a hand-edited table.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(error: SdkError<E, R>) -> Self {
        let retryable = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ServiceError(service) => service
                .err()
                .code()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
            _ => false,
        };
        let message = DisplayErrorContext(&error).to_string();
        if retryable {
            Self::Unavailable(message)
        } else {
            Self::Failed(message)
        }
    }
}

/// A request the builder refused (a required field left out): a bug in the store.
impl From<BuildError> for StoreError {
    fn from(error: BuildError) -> Self {
        Self::Failed(format!("invalid DynamoDB request: {error}"))
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "storage unavailable");
                Problem::unavailable("Storage is temporarily unavailable. Retry shortly.")
            }
            StoreError::Failed(cause) | StoreError::Corrupt(cause) => {
                tracing::error!(%cause, "storage failure");
                Problem::internal()
            }
        }
    }
}

/// The per-item reasons of a cancelled `TransactWriteItems`, in request order, or `None`
/// when the call failed for another reason.
pub fn cancellation_reasons<R>(
    error: &SdkError<TransactWriteItemsError, R>,
) -> Option<&[CancellationReason]> {
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            Some(cancelled.cancellation_reasons())
        }
        _ => None,
    }
}

pub fn is_condition_failure(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

/// True when a transaction lost a race with another transaction on the same items.
/// Nothing was written; running it again is safe and usually succeeds.
pub fn is_transaction_conflict<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    cancellation_reasons(error).is_some_and(|reasons| {
        reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
    }) || error
        .as_service_error()
        .is_some_and(|e| e.code() == Some("TransactionConflictException"))
}

/// How often a store re-runs a transaction that lost a race before it reports the
/// service as temporarily unavailable.
const CONFLICT_ATTEMPTS: u32 = 8;

/// Runs `attempt` again while it fails with a transaction conflict, with jittered
/// exponential backoff. Each attempt must be a complete, self-contained transaction
/// whose conditions make a repeat safe.
pub async fn retry_transaction_conflicts<T, R, F, Fut>(
    mut attempt: F,
) -> Result<T, SdkError<TransactWriteItemsError, R>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<TransactWriteItemsError, R>>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(200));
    for _ in 1..CONFLICT_ATTEMPTS {
        match attempt().await {
            Err(error) if is_transaction_conflict(&error) => backoff.wait().await,
            outcome => return outcome,
        }
    }
    attempt().await
}

/// Writes `items` in one transaction, retrying it while it only conflicts with another
/// transaction (see [`retry_transaction_conflicts`]); a cancelled transaction's reasons
/// stay in the error for the caller to read.
pub async fn transact(
    client: &Client,
    items: &[TransactWriteItem],
) -> Result<TransactWriteItemsOutput, SdkError<TransactWriteItemsError, HttpResponse>> {
    retry_transaction_conflicts(|| {
        client
            .transact_write_items()
            .set_transact_items(Some(items.to_vec()))
            .send()
    })
    .await
}

/// Exponential backoff with jitter between attempts at a contended write, so racing
/// writers spread out instead of colliding again in lockstep.
#[derive(Debug)]
pub struct Backoff {
    delay: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            delay: initial,
            max,
        }
    }

    /// Sleeps between one and two times the current delay, then doubles it.
    pub async fn wait(&mut self) {
        let jitter = Duration::from_millis(fastrand::u64(0..=self.delay.as_millis() as u64));
        tokio::time::sleep(self.delay + jitter).await;
        self.delay = (self.delay * 2).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Record {
        name: String,
        quantity: u32,
    }

    #[test]
    fn items_round_trip_and_carry_their_key() {
        let record = Record {
            name: "Mug".into(),
            quantity: 3,
        };
        let item = to_item(&record, "PRODUCT#1", "PRODUCT").expect("serialises");
        assert_eq!(item[PK], s("PRODUCT#1"));
        assert_eq!(item["quantity"], n(3));
        assert_eq!(from_item::<Record>(item).expect("deserialises"), record);
    }

    #[test]
    fn a_corrupt_item_is_reported_not_panicked() {
        let item = HashMap::from([("name".to_owned(), n(1))]);
        assert!(matches!(
            from_item::<Record>(item),
            Err(StoreError::Corrupt(_))
        ));
    }
}
