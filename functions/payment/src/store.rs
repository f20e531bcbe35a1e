//! Where the ledger lives. Each order has at most two items under `PAYMENT#<order id>`:
//! - `CHARGE`: its one charge, written PENDING before the provider is asked, then
//!   settled once (APPROVED, DECLINED or VOIDED) from the provider's outcome;
//! - `REFUND`: its one refund.
//!
//! (The simulated provider keeps its own items in the same table, see
//! [`crate::provider`].)
//!
//! Every write is conditional, so whatever the interleaving of retries:
//! - a charge begins only while there is none;
//! - a settled charge never changes; only a PENDING one (or a missing one) is settled;
//! - a refund is written only against the settled charge it read (or against no
//!   charge), and an order is refunded at most once and never more than it was
//!   charged.
//!
//! A charge's two writes are single-item conditional writes, not transactions: the
//! happy path of a payment costs three writes (begin, the provider's outcome, settle).
//! What a transaction with the refund used to guard, the provider guards: a refund that
//! finds no settled charge voids the order's key at the provider first, so a charge
//! that begins after it (beside the refund) can only settle as VOIDED, taking nothing.
//!
//! One store, and no trait over it (why: `service_kit::dynamo`); the domain rules that
//! need no storage are unit-tested in `domain.rs`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use service_kit::dynamo::{self, Inserted, StoreError, is_condition_failure, s};
use std::collections::HashMap;

use crate::domain::{Charge, ChargeStatus, Refund};

const CHARGE: &str = "CHARGE";
const REFUND: &str = "REFUND";

fn payment_pk(order_id: &str) -> String {
    format!("PAYMENT#{order_id}")
}

#[derive(Debug)]
pub enum BeginOutcome {
    /// The PENDING charge was written.
    Recorded(Charge),
    /// The order already has a charge, pending or settled; nothing was written.
    Exists(Charge),
}

#[derive(Debug)]
pub enum SettleOutcome {
    Settled(Charge),
    /// The charge was settled already, or the order refunded: nothing was written.
    /// The order's charge and refund as they are now.
    Closed(Option<Charge>, Option<Refund>),
}

#[derive(Debug)]
pub enum RefundOutcome {
    Refunded(Refund),
    /// The charge is no longer the one the refund was computed from, or the order was
    /// refunded meanwhile: nothing was written.
    Changed,
}

pub struct PaymentStore {
    client: Client,
    table: String,
}

/// A condition on one item, with its placeholders.
struct Condition {
    expression: &'static str,
    status: Option<ChargeStatus>,
}

impl Condition {
    const ABSENT: Self = Self {
        expression: "attribute_not_exists(pk)",
        status: None,
    };

    /// The charge has `status`.
    fn has_status(status: ChargeStatus) -> Self {
        Self {
            expression: "#status = :status",
            status: Some(status),
        }
    }

    /// The charge is PENDING or missing: not settled.
    fn unsettled() -> Self {
        Self {
            expression: "attribute_not_exists(pk) OR #status = :status",
            status: Some(ChargeStatus::Pending),
        }
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        // `status` is a DynamoDB reserved word.
        self.status
            .map(|_| [("#status".to_owned(), "status".to_owned())].into())
    }

    fn values(&self) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        self.status
            .map(|status| Ok([(":status".to_owned(), dynamo::to_value(&status)?)].into()))
            .transpose()
    }
}

impl PaymentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn check(
        &self,
        order_id: &str,
        sk: &str,
        condition: Condition,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(payment_pk(order_id), sk)))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values()?)
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    fn put(
        &self,
        item: dynamo::Item,
        condition: Condition,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values()?)
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs the transaction; `Ok(false)` when one of its conditions did not hold.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        let result = dynamo::transact(&self.client, &items).await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match dynamo::cancellation_reasons(&error) {
                Some(reasons) if reasons.iter().any(is_condition_failure) => Ok(false),
                _ => Err(error.into()),
            },
        }
    }
}

impl PaymentStore {
    /// The order's charge and refund, read consistently.
    pub async fn payments(
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

    /// Writes `pending` as the order's charge unless it has one (then: that one).
    pub async fn begin_charge(&self, pending: &Charge) -> Result<BeginOutcome, StoreError> {
        let item = dynamo::to_item(pending, payment_pk(&pending.order_id), CHARGE)?;
        Ok(
            match dynamo::put_if_absent(&self.client, &self.table, item).await? {
                Inserted::Created => BeginOutcome::Recorded(pending.clone()),
                Inserted::Existing(existing) => BeginOutcome::Exists(existing),
            },
        )
    }

    /// Writes `settled` as the order's charge if its charge is PENDING or missing.
    pub async fn settle_charge(&self, settled: &Charge) -> Result<SettleOutcome, StoreError> {
        let order_id = &settled.order_id;
        let unsettled = Condition::unsettled();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(
                settled,
                payment_pk(order_id),
                CHARGE,
            )?))
            .condition_expression(unsettled.expression)
            .set_expression_attribute_names(unsettled.names())
            .set_expression_attribute_values(unsettled.values()?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SettleOutcome::Settled(settled.clone())),
            Err(error) if dynamo::failed_condition(&error) => {
                let (charge, refund) = self.payments(order_id).await?;
                Ok(SettleOutcome::Closed(charge, refund))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Removes the order's charge if it is still PENDING: for a provider call that
    /// was turned away, so the ledger shows nothing charged, as the provider says.
    pub async fn withdraw_charge(&self, order_id: &str) -> Result<(), StoreError> {
        let pending = Condition::has_status(ChargeStatus::Pending);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(payment_pk(order_id), CHARGE)))
            .condition_expression(pending.expression)
            .set_expression_attribute_names(pending.names())
            .set_expression_attribute_values(pending.values()?)
            .send()
            .await;
        match result {
            // Settled meanwhile by a concurrent attempt, or withdrawn already: either
            // way it is not ours to remove.
            Err(error) if dynamo::failed_condition(&error) => Ok(()),
            other => other.map(drop).map_err(StoreError::from),
        }
    }

    /// Writes `refund` if the order has no refund and its charge is still `charge`:
    /// the same settled charge, or none.
    pub async fn refund(
        &self,
        refund: &Refund,
        charge: Option<&Charge>,
    ) -> Result<RefundOutcome, StoreError> {
        let order_id = &refund.order_id;
        // A settled charge never changes, so "the charge I read is still the charge"
        // is "it still has the status I read" (or "there is still none").
        let charge_unchanged = match charge {
            Some(charge) if charge.is_settled() => Condition::has_status(charge.status),
            Some(_) => {
                return Err(StoreError::Failed(format!(
                    "refund of order {order_id} against a pending charge"
                )));
            }
            None => Condition::ABSENT,
        };
        let items = vec![
            self.put(
                dynamo::to_item(refund, payment_pk(order_id), REFUND)?,
                Condition::ABSENT,
            )?,
            self.check(order_id, CHARGE, charge_unchanged)?,
        ];
        Ok(match self.transact(items).await? {
            true => RefundOutcome::Refunded(refund.clone()),
            false => RefundOutcome::Changed,
        })
    }
}
