//! Table definitions. `infra/tables.json` is the single source of truth for every
//! table's keys and indexes, written in DynamoDB's own `CreateTable` vocabulary so the
//! AWS CLI, CloudFormation and this module can all read it. Table *names* are
//! configuration; this file names each table by its owner (`customers`, `orders`, ...).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde::Deserialize;

pub const DEFINITIONS_JSON: &str = include_str!("../../../infra/tables.json");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
    /// Items expire at the epoch seconds in this attribute.
    #[serde(default)]
    pub time_to_live_specification: Option<TtlSpec>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TtlSpec {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProjectionSpec {
    pub projection_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("no table named {0:?} in infra/tables.json")]
    Unknown(String),
    #[error("infra/tables.json is invalid: {0}")]
    Invalid(String),
    #[error("cannot create table {table}: {message}")]
    Create { table: String, message: String },
}

/// Every definition, by owner name.
pub fn definitions() -> Result<BTreeMap<String, TableDefinition>, TableError> {
    serde_json::from_str(DEFINITIONS_JSON).map_err(|e| TableError::Invalid(e.to_string()))
}

pub fn definition(owner: &str) -> Result<TableDefinition, TableError> {
    definitions()?
        .remove(owner)
        .ok_or_else(|| TableError::Unknown(owner.to_owned()))
}

/// Creates table `table_name` with the definition of `owner`, on-demand billing, and
/// waits until it is active. An existing table is left as it is.
pub async fn create(client: &Client, owner: &str, table_name: &str) -> Result<(), TableError> {
    let definition = definition(owner)?;
    let indexes = global_secondary_indexes(&definition)?;
    let result = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attribute_definitions(&definition)?))
        .set_key_schema(Some(key_schema(&definition.key_schema)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .send()
        .await;
    let create_error = |message: String| TableError::Create {
        table: table_name.to_owned(),
        message,
    };
    match result {
        Ok(_) => {}
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), CreateTableError::ResourceInUseException(_)) => {}
        Err(error) => return Err(create_error(DisplayErrorContext(&error).to_string())),
    }
    client
        .wait_until_table_exists()
        .table_name(table_name)
        .wait(Duration::from_secs(120))
        .await
        .map_err(|error| create_error(DisplayErrorContext(&error).to_string()))?;
    if let Some(ttl) = definition.time_to_live_specification {
        enable_time_to_live(client, table_name, ttl).await?;
    }
    Ok(())
}

fn invalid(error: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Invalid(error.to_string())
}

fn attribute_definitions(
    definition: &TableDefinition,
) -> Result<Vec<AttributeDefinition>, TableError> {
    definition
        .attribute_definitions
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(invalid)
        })
        .collect()
}

fn global_secondary_indexes(
    definition: &TableDefinition,
) -> Result<Vec<GlobalSecondaryIndex>, TableError> {
    definition
        .global_secondary_indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()
                .map_err(invalid)
        })
        .collect()
}

async fn enable_time_to_live(
    client: &Client,
    table_name: &str,
    ttl: TtlSpec,
) -> Result<(), TableError> {
    let specification = TimeToLiveSpecification::builder()
        .attribute_name(ttl.attribute_name)
        .enabled(ttl.enabled)
        .build()
        .map_err(invalid)?;
    let result = client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(specification)
        .send()
        .await;
    // Enabling TTL twice is refused as "already enabled": that is the goal anyway.
    match result {
        Err(error) => {
            let message = DisplayErrorContext(&error).to_string();
            if message.contains("already enabled") {
                Ok(())
            } else {
                Err(TableError::Create {
                    table: table_name.to_owned(),
                    message,
                })
            }
        }
        Ok(_) => Ok(()),
    }
}

fn key_schema(keys: &[KeySpec]) -> Result<Vec<KeySchemaElement>, TableError> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| TableError::Invalid(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_a_table_keyed_by_pk_and_sk() {
        let definitions = definitions().expect("infra/tables.json parses");
        let owners: Vec<_> = definitions.keys().map(String::as_str).collect();
        assert_eq!(
            owners,
            [
                "breakers",
                "customers",
                "gateway",
                "inventory",
                "notifications",
                "orders",
                "payments",
                "ratelimits"
            ]
        );
        for (owner, definition) in &definitions {
            let keys: Vec<_> = definition
                .key_schema
                .iter()
                .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
                .collect();
            assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")], "{owner}");
        }
    }

    #[test]
    fn every_key_attribute_is_defined_and_every_definition_is_a_key() {
        for (owner, definition) in definitions().expect("parses") {
            let mut used: Vec<&str> = definition
                .key_schema
                .iter()
                .chain(
                    definition
                        .global_secondary_indexes
                        .iter()
                        .flat_map(|i| &i.key_schema),
                )
                .map(|k| k.attribute_name.as_str())
                .collect();
            used.sort_unstable();
            used.dedup();
            let mut defined: Vec<&str> = definition
                .attribute_definitions
                .iter()
                .map(|a| a.attribute_name.as_str())
                .collect();
            defined.sort_unstable();
            // DynamoDB rejects a definition that no key uses, and a key with no definition.
            assert_eq!(used, defined, "{owner}");
        }
    }
}
