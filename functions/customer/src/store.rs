//! Where customers live. The table holds two item kinds:
//! - `CUSTOMER#<id> / PROFILE`: the customer and its password hash;
//! - `EMAIL#<email> / EMAIL`: a claim on an email address, pointing at the customer.
//!
//! Both are written in one transaction, each conditional on not existing, so an email
//! can be claimed once however many registrations race for it.
//!
//! One store, and no trait over it (why: `service_kit::dynamo`); the domain rules that
//! need no storage are unit-tested in `domain.rs`.

use aws_sdk_dynamodb::Client;
use service_kit::dynamo::{self, StoreError, is_condition_failure, s};

use crate::domain::{CustomerRecord, Email, ProfileUpdate};

/// The outcome of trying to store a new customer.
#[derive(Debug)]
pub enum Insert {
    Created,
    /// The email already belongs to a customer; nothing was written.
    EmailTaken,
}

pub struct CustomerStore {
    client: Client,
    table: String,
}

impl CustomerStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn customer_pk(id: &str) -> String {
    format!("CUSTOMER#{id}")
}

fn email_pk(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

const PROFILE: &str = "PROFILE";
const EMAIL: &str = "EMAIL";

/// The two items a registration writes: the email claim and the profile (also used to
/// seed tables from outside the service, e.g. LocalStack's init hooks).
pub fn registration_items(
    record: &CustomerRecord,
) -> Result<(dynamo::Item, dynamo::Item), StoreError> {
    let customer = &record.customer;
    let claim = dynamo::key(email_pk(&customer.email), EMAIL)
        .into_iter()
        .chain([("customer_id".to_owned(), s(&customer.id))])
        .collect();
    let profile = dynamo::to_item(record, customer_pk(&customer.id), PROFILE)?;
    Ok((claim, profile))
}

impl CustomerStore {
    pub async fn insert(&self, record: &CustomerRecord) -> Result<Insert, StoreError> {
        let (claim, profile) = registration_items(record)?;
        let claim = dynamo::put_new(&self.table, claim)?;
        let profile = dynamo::put_new(&self.table, profile)?;
        let result = dynamo::transact(&self.client, &[claim, profile]).await;
        match result {
            Ok(_) => Ok(Insert::Created),
            Err(error) => match dynamo::cancellation_reasons(&error) {
                Some([claim, _]) if is_condition_failure(claim) => Ok(Insert::EmailTaken),
                _ => Err(error.into()),
            },
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        dynamo::get_consistent(
            &self.client,
            &self.table,
            dynamo::key(customer_pk(id), PROFILE),
        )
        .await
    }

    pub async fn find_by_email(&self, email: &Email) -> Result<Option<CustomerRecord>, StoreError> {
        let claim = dynamo::get_item_consistent(
            &self.client,
            &self.table,
            dynamo::key(email_pk(email), EMAIL),
        )
        .await?;
        let Some(id) = claim
            .as_ref()
            .and_then(|item| item.get("customer_id"))
            .and_then(|id| id.as_s().ok())
        else {
            return Ok(None);
        };
        self.get(id).await
    }

    /// Applies `update` to an existing customer; `None` if there is no such customer.
    pub async fn update_profile(
        &self,
        id: &str,
        update: &ProfileUpdate,
        now: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let changes = [
            update.name.as_ref().map(|name| ("name", s(name))),
            update
                .shipping_address
                .as_ref()
                .map(|address| ("shipping_address", s(address))),
        ];
        let key = dynamo::key(customer_pk(id), PROFILE);
        dynamo::update_existing(&self.client, &self.table, key, now, changes).await
    }

    /// Replaces the password hash `expected` with `new`: `false` (nothing written) when
    /// the customer is gone or its hash is no longer `expected` (a concurrent change).
    pub async fn replace_password_hash(
        &self,
        id: &str,
        expected: &str,
        new: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(customer_pk(id), PROFILE)))
            .update_expression("SET password_hash = :new, updated_at = :now")
            .condition_expression("password_hash = :expected")
            .expression_attribute_values(":new", s(new))
            .expression_attribute_values(":expected", s(expected))
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if dynamo::failed_condition(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
