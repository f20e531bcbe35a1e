//! Where payments live. Each order has at most three items under `PAYMENT#<order id>`:
//! - `CHARGE`: its one charge (approved or declined);
//! - `REFUND`: its one refund;
//! - `ATTEMPTS`: how often the provider was asked to charge it (for transient cards).
//!
//! A charge is written only while there is no refund, and a refund only against the
//! charge it read, each in one transaction, so an order is charged at most once,
//! refunded at most once, and never refunded more than was charged, whatever the
//! interleaving of retries.

use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, ReturnValue, TransactWriteItem};
use service_kit::dynamo::{self, StoreError, is_condition_failure, n, s};

use crate::domain::{Charge, Refund};

const CHARGE: &str = "CHARGE";
const REFUND: &str = "REFUND";
const ATTEMPTS: &str = "ATTEMPTS";

fn payment_pk(order_id: &str) -> String {
    format!("PAYMENT#{order_id}")
}

#[derive(Debug)]
pub enum ChargeOutcome {
    Recorded(Charge),
    /// The order already has a charge; nothing was written.
    Exists(Charge),
    /// The order was refunded (voided) before any charge; nothing was written.
    Voided(Refund),
}

#[derive(Debug)]
pub enum RefundOutcome {
    Refunded(Refund),
    /// The order was already refunded; nothing was written.
    Exists(Refund),
}

pub trait PaymentStore: Send + Sync + 'static {
    /// The order's charge and refund, read consistently.
    fn payments(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<(Option<Charge>, Option<Refund>), StoreError>> + Send;

    /// Counts one more attempt at charging the order and returns the count.
    fn count_attempt(&self, order_id: &str)
    -> impl Future<Output = Result<u32, StoreError>> + Send;

    fn record_charge(
        &self,
        charge: &Charge,
    ) -> impl Future<Output = Result<ChargeOutcome, StoreError>> + Send;

    /// Refunds whatever the order's charge captured (zero if it has none).
    fn refund(
        &self,
        order_id: &str,
        now: &str,
    ) -> impl Future<Output = Result<RefundOutcome, StoreError>> + Send;
}

pub struct DynamoPaymentStore {
    client: Client,
    table: String,
}

/// A refund re-reads and retries when a charge lands between its read and its write;
/// a charge lands at most once, so two attempts suffice and four is generous.
const REFUND_ATTEMPTS: usize = 4;

impl DynamoPaymentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn condition_check(
        &self,
        order_id: &str,
        sk: &str,
        condition: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(payment_pk(order_id), sk)))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    fn put_new(&self, item: dynamo::Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl PaymentStore for DynamoPaymentStore {
    async fn payments(
        &self,
        order_id: &str,
    ) -> Result<(Option<Charge>, Option<Refund>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(payment_pk(order_id)))
            .consistent_read(true)
            .send()
            .await?;
        let mut charge = None;
        let mut refund = None;
        for item in output.items.unwrap_or_default() {
            match item
                .get(dynamo::SK)
                .and_then(|sk| sk.as_s().ok())
                .map(String::as_str)
            {
                Some(CHARGE) => charge = Some(dynamo::from_item(item)?),
                Some(REFUND) => refund = Some(dynamo::from_item(item)?),
                _ => {}
            }
        }
        Ok((charge, refund))
    }

    async fn count_attempt(&self, order_id: &str) -> Result<u32, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(payment_pk(order_id), ATTEMPTS)))
            .update_expression("ADD attempts :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await?;
        output
            .attributes
            .as_ref()
            .and_then(|item| item.get("attempts"))
            .and_then(|attempts| attempts.as_n().ok())
            .and_then(|attempts| attempts.parse().ok())
            .ok_or_else(|| StoreError::Corrupt("attempt counter is not a number".into()))
    }

    async fn record_charge(&self, charge: &Charge) -> Result<ChargeOutcome, StoreError> {
        let order_id = &charge.order_id;
        let items = vec![
            self.put_new(dynamo::to_item(charge, payment_pk(order_id), CHARGE)?)?,
            self.condition_check(order_id, REFUND, "attribute_not_exists(pk)")?,
        ];
        let result = dynamo::retry_transaction_conflicts(|| {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
        })
        .await;
        let error = match result {
            Ok(_) => return Ok(ChargeOutcome::Recorded(charge.clone())),
            Err(error) => error,
        };
        let reasons = dynamo::cancellation_reasons(&error);
        let (existing_charge, existing_refund) = match reasons {
            Some([charged, refunded])
                if is_condition_failure(charged) || is_condition_failure(refunded) =>
            {
                self.payments(order_id).await?
            }
            _ => return Err(error.into()),
        };
        match (existing_charge, existing_refund) {
            (Some(existing), _) => Ok(ChargeOutcome::Exists(existing)),
            (None, Some(refund)) => Ok(ChargeOutcome::Voided(refund)),
            (None, None) => Err(StoreError::Failed("payment items vanished".into())),
        }
    }

    async fn refund(&self, order_id: &str, now: &str) -> Result<RefundOutcome, StoreError> {
        for _ in 0..REFUND_ATTEMPTS {
            let (charge, refund) = self.payments(order_id).await?;
            if let Some(refund) = refund {
                return Ok(RefundOutcome::Exists(refund));
            }
            let refund = Refund {
                order_id: order_id.to_owned(),
                amount: charge.as_ref().map_or(0, Charge::captured),
                created_at: now.to_owned(),
            };
            // A charge never changes once written, so "the charge I read is still the
            // charge" is just "it exists" (or "there is still none").
            let charge_unchanged = match charge {
                Some(_) => "attribute_exists(pk)",
                None => "attribute_not_exists(pk)",
            };
            let items = vec![
                self.put_new(dynamo::to_item(&refund, payment_pk(order_id), REFUND)?)?,
                self.condition_check(order_id, CHARGE, charge_unchanged)?,
            ];
            let result = dynamo::retry_transaction_conflicts(|| {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .send()
            })
            .await;
            match result {
                Ok(_) => return Ok(RefundOutcome::Refunded(refund)),
                Err(error) => match dynamo::cancellation_reasons(&error) {
                    // A refund or a charge landed meanwhile: read again.
                    Some(reasons) if reasons.iter().any(is_condition_failure) => continue,
                    _ => return Err(error.into()),
                },
            }
        }
        Err(StoreError::Unavailable(format!(
            "payments of order {order_id} kept changing under a refund"
        )))
    }
}
