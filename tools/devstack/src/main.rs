//! `devstack create-tables`: creates every table of `infra/tables.json`, named
//! `$TABLE_PREFIX<owner>`, on the DynamoDB the standard AWS environment points at.
//!
//! `devstack seed`: registers the demo users and the demo catalog of
//! `infra/seed.json` through the customer and inventory services at `$CUSTOMER_URL` and
//! `$INVENTORY_URL`. Both commands are idempotent: running them again changes nothing.
//! The demo data is for local runs only: its admin's password is published, so `seed`
//! refuses to run against services that need signed calls (`SERVICE_AUTH=aws_iam`, AWS).
//!
//! `devstack create-admin EMAIL [NAME]`: registers an administrator through the customer
//! service at `$CUSTOMER_URL` (signed on AWS) with a generated password, printed once;
//! the service keeps only its hash. It never changes an existing account.
//!
//! `devstack seed-items FILE`: writes the same demo data as DynamoDB items (DynamoDB
//! JSON, per table owner) for LocalStack's init hooks, which cannot call the services:
//! the items are made by the services' own code (password hashing included).

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
        Some("create-admin") => match (std::env::args().nth(2), std::env::args().nth(3)) {
            (Some(email), name) => {
                create_admin(&email, name.as_deref().unwrap_or("Administrator")).await
            }
            (None, _) => Err("usage: devstack create-admin EMAIL [NAME]".into()),
        },
        Some("seed-items") => match std::env::args().nth(2) {
            Some(path) => seed_items(&path),
            None => Err("usage: devstack seed-items FILE".into()),
        },
        _ => Err("usage: devstack create-tables | devstack seed | devstack create-admin EMAIL [NAME] | devstack seed-items FILE".into()),
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
    let customer = config::base_url("CUSTOMER_URL")?;
    let inventory = config::base_url("INVENTORY_URL")?;
    let seed: Value = serde_json::from_str(SEED_JSON)?;
    let signer = service_kit::sigv4::RequestSigner::from_env().await?;
    if signer.is_some() {
        return Err(
            "the demo users and catalog are for local runs only (their admin's password is \
             published); on AWS, create the first admin with `devstack create-admin EMAIL` \
             and add products as that admin"
                .into(),
        );
    }
    let http = reqwest::Client::new();
    let sections = [
        ("users", format!("{customer}/customers"), "email"),
        ("products", format!("{inventory}/products"), "sku"),
    ];
    for (section, url, label) in sections {
        for body in seed[section].as_array().into_iter().flatten() {
            let answer = post(&http, signer.as_ref(), &url, body).await?;
            println!("{section}: {} {answer}", body[label]);
        }
    }
    Ok(())
}

/// A password of 256 random bits from the OS generator (through v4 UUIDs), URL-safe.
fn generated_password() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

async fn create_admin(email: &str, name: &str) -> Result<(), BoxError> {
    let customer = config::base_url("CUSTOMER_URL")?;
    let signer = service_kit::sigv4::RequestSigner::from_env().await?;
    let password = generated_password();
    let body =
        serde_json::json!({"email": email, "password": password, "name": name, "role": "admin"});
    let http = reqwest::Client::new();
    let mut request = http
        .post(format!("{customer}/customers"))
        .json(&body)
        .build()?;
    if let Some(signer) = &signer {
        signer.sign(&mut request).await?;
    }
    let response = http.execute(request).await?;
    match response.status().as_u16() {
        201 => {
            println!(
                "administrator {email} created. Its password, shown this once:\n\n  {password}\n"
            );
            Ok(())
        }
        409 => Err(format!("an account {email} exists already; nothing was changed").into()),
        status => Err(format!(
            "{customer}/customers answered {status}: {}",
            response.text().await?
        )
        .into()),
    }
}

fn seed_items(path: &str) -> Result<(), BoxError> {
    let seed: Value = serde_json::from_str(SEED_JSON)?;
    let now = service_kit::clock::now();
    let mut customers = Vec::new();
    for user in seed["users"].as_array().into_iter().flatten() {
        let text = |field: &str| user[field].as_str().unwrap_or_default().to_owned();
        let password = customer::domain::Password::parse(text("password"))?;
        let record = customer::domain::CustomerRecord {
            customer: customer::domain::Customer {
                id: uuid::Uuid::new_v4().to_string(),
                email: customer::domain::Email::parse(&text("email"))?,
                name: text("name"),
                shipping_address: None,
                role: serde_json::from_value(user["role"].clone())?,
                created_at: now.clone(),
                updated_at: now.clone(),
            },
            password_hash: password.hash()?,
        };
        let (claim, profile) = customer::store::registration_items(&record)?;
        customers.extend([dynamodb_json(claim)?, dynamodb_json(profile)?]);
    }
    let mut inventory = Vec::new();
    for product in seed["products"].as_array().into_iter().flatten() {
        let mut product = product.clone();
        product["reserved"] = Value::from(0);
        product["created_at"] = Value::from(now.clone());
        product["updated_at"] = Value::from(now.clone());
        let product: inventory::domain::Product = serde_json::from_value(product)?;
        inventory.push(dynamodb_json(inventory::store::product_item(&product)?)?);
    }
    let counts = (customers.len(), inventory.len());
    let items = serde_json::json!({"customers": customers, "inventory": inventory});
    std::fs::write(path, serde_json::to_string_pretty(&items)? + "\n")?;
    println!(
        "wrote {} customer and {} inventory items to {path}",
        counts.0, counts.1
    );
    Ok(())
}

/// An item in DynamoDB's JSON form (`{"pk": {"S": "..."}}`), as the AWS CLI takes it.
fn dynamodb_json(item: service_kit::dynamo::Item) -> Result<Value, BoxError> {
    let item: serde_dynamo::Item = item.into();
    Ok(serde_json::to_value(item)?)
}

/// Posts `body`; 201 is "created", 200 "already there". Anything else is an error,
/// except 409 (the demo data was changed by hand, which is the user's business).
async fn post(
    http: &reqwest::Client,
    signer: Option<&service_kit::sigv4::RequestSigner>,
    url: &str,
    body: &Value,
) -> Result<&'static str, BoxError> {
    let mut request = http.post(url).json(body).build()?;
    if let Some(signer) = signer {
        signer.sign(&mut request).await?;
    }
    let response = http.execute(request).await?;
    match response.status().as_u16() {
        201 => Ok("created"),
        200 => Ok("already there"),
        409 => Ok("exists with other details; left as it is"),
        status => Err(format!("{url} answered {status}: {}", response.text().await?).into()),
    }
}
