//! `devstack create-tables`: creates every table of `infra/tables.json`, named
//! `$TABLE_PREFIX<owner>`, on the DynamoDB the standard AWS environment points at.
//!
//! `devstack seed`: registers the demo users and the demo catalog of
//! `infra/seed.json` through the customer and inventory services at `$CUSTOMER_URL` and `$INVENTORY_URL`. Both
//! commands are idempotent: running them again changes nothing.

use serde_json::Value;
use service_kit::config;
use service_kit::serve::BoxError;

/// The demo users and catalog, as the bodies the services' create endpoints take.
const SEED_JSON: &str = include_str!("../../../infra/seed.json");

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::args().nth(1).as_deref() {
        Some("create-tables") => create_tables().await,
        Some("seed") => seed().await,
        _ => Err("usage: devstack create-tables | devstack seed".into()),
    }
}

async fn create_tables() -> Result<(), BoxError> {
    let prefix: String = config::optional("TABLE_PREFIX", String::new())?;
    let client = service_kit::dynamo::client_from_env().await;
    for owner in service_kit::tables::definitions()?.keys() {
        let name = format!("{prefix}{owner}");
        service_kit::tables::create(&client, owner, &name).await?;
        println!("table {name} ready");
    }
    Ok(())
}

async fn seed() -> Result<(), BoxError> {
    let customer = config::required("CUSTOMER_URL")?;
    let inventory = config::required("INVENTORY_URL")?;
    let seed: Value = serde_json::from_str(SEED_JSON)?;
    let http = reqwest::Client::new();
    let sections = [
        ("users", format!("{customer}/customers"), "email"),
        ("products", format!("{inventory}/products"), "sku"),
    ];
    for (section, url, label) in sections {
        for body in seed[section].as_array().into_iter().flatten() {
            let answer = post(&http, &url, body).await?;
            println!("{section}: {} {answer}", body[label]);
        }
    }
    Ok(())
}

/// Posts `body`; 201 is "created", 200 "already there". Anything else is an error,
/// except 409 (the demo data was changed by hand, which is the user's business).
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Result<&'static str, BoxError> {
    let response = http.post(url).json(body).send().await?;
    match response.status().as_u16() {
        201 => Ok("created"),
        200 => Ok("already there"),
        409 => Ok("exists with other details; left as it is"),
        status => Err(format!("{url} answered {status}: {}", response.text().await?).into()),
    }
}
