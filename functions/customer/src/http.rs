//! HTTP routes of the customer service. The service is private: the gateway is the
//! only caller and decides who may do what.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::{Json, Path};

use crate::accounts::{self, CustomerError, Registration};
use crate::domain::{Customer, Email, Password, ProfileUpdate, Role};
use crate::store::CustomerStore;
use service_kit::validate::parse_text;

pub fn routes(store: Arc<CustomerStore>) -> Router {
    Router::new()
        .route("/customers", post(register))
        .route("/customers/{id}", get(get_customer).patch(update))
        .route("/customers/{id}/password", put(change_password))
        .route("/credentials/verify", post(verify))
        .with_state(store)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    name: String,
    #[serde(default)]
    role: Role,
}

/// 201 with the new customer, or 200 with the same customer when this exact
/// registration was already made (a retry).
async fn register(
    State(store): State<Arc<CustomerStore>>,
    Json(body): Json<RegisterBody>,
) -> Result<(StatusCode, Json<Customer>), Problem> {
    let registration = Registration {
        email: Email::parse(&body.email).map_err(Problem::invalid)?,
        password: Password::parse(body.password).map_err(Problem::invalid)?,
        name: parse_text(&body.name, "name", 100, false).map_err(Problem::invalid)?,
        role: body.role,
    };
    let (customer, outcome) = accounts::register(store.as_ref(), registration).await?;
    Ok(outcome.reply(customer))
}

async fn get_customer(
    State(store): State<Arc<CustomerStore>>,
    Path(id): Path<String>,
) -> Result<Json<Customer>, Problem> {
    Ok(Json(accounts::get(store.as_ref(), &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    shipping_address: Option<String>,
}

async fn update(
    State(store): State<Arc<CustomerStore>>,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Json<Customer>, Problem> {
    let update = ProfileUpdate {
        name: body
            .name
            .map(|name| parse_text(&name, "name", 100, false))
            .transpose()
            .map_err(Problem::invalid)?,
        shipping_address: body
            .shipping_address
            .map(|address| parse_text(&address, "shipping_address", 500, true))
            .transpose()
            .map_err(Problem::invalid)?,
    };
    if update.name.is_none() && update.shipping_address.is_none() {
        return Err(Problem::invalid(
            "Give at least one of `name` and `shipping_address`.",
        ));
    }
    Ok(Json(
        accounts::update_profile(store.as_ref(), &id, &update).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    email: String,
    password: String,
}

/// 200 with the customer when the credentials are right, 401 otherwise. Malformed
/// emails and passwords are simply wrong credentials: a login form should not learn
/// the password rules from this endpoint.
async fn verify(
    State(store): State<Arc<CustomerStore>>,
    Json(body): Json<VerifyBody>,
) -> Result<Json<Customer>, Problem> {
    let (Ok(email), Ok(password)) = (Email::parse(&body.email), Password::parse(body.password))
    else {
        return Err(CustomerError::InvalidCredentials.into());
    };
    Ok(Json(
        accounts::verify_credentials(store.as_ref(), &email, password).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChangeBody {
    current_password: String,
    new_password: String,
}

/// 200 with the customer once its password is the new one (a retry included); 401 when
/// the current password is wrong; 422 when the new one breaks the password rules.
async fn change_password(
    State(store): State<Arc<CustomerStore>>,
    Path(id): Path<String>,
    Json(body): Json<PasswordChangeBody>,
) -> Result<Json<Customer>, Problem> {
    let new = Password::parse(body.new_password)
        .map_err(|rule| Problem::invalid(format!("new_password: {rule}")))?;
    let Ok(current) = Password::parse(body.current_password) else {
        return Err(CustomerError::InvalidCredentials.into());
    };
    Ok(Json(
        accounts::change_password(store.as_ref(), &id, current, new).await?,
    ))
}
