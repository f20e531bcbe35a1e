//! The customer operations, over the [`CustomerStore`].

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::dynamo::StoreError;
use service_kit::outcome::Outcome;

use crate::domain::{Customer, CustomerRecord, DECOY_HASH, Email, Password, ProfileUpdate, Role};
use crate::store::{CustomerStore, Insert};

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("{0}")]
    Invalid(String),
    #[error("email already registered")]
    EmailTaken,
    #[error("no customer {0}")]
    NotFound(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CustomerError> for Problem {
    fn from(error: CustomerError) -> Self {
        match error {
            CustomerError::Invalid(detail) => Problem::invalid(detail),
            CustomerError::EmailTaken => Problem::conflict(
                "email-taken",
                "Email already registered",
                "An account with this email already exists.",
            ),
            CustomerError::NotFound(id) => {
                Problem::not_found(format!("There is no customer {id:?}."))
            }
            CustomerError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid credentials",
            )
            .with_detail("The email or password is wrong."),
            CustomerError::Hashing(cause) => {
                tracing::error!(%cause, "password hashing failed");
                Problem::internal()
            }
            CustomerError::Store(error) => error.into(),
        }
    }
}

/// A registration whose fields have been validated.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub name: String,
    pub role: Role,
}

/// Registers a customer. Repeating a registration with the same email, password and
/// name returns the same customer; any other registration of a taken email is refused.
pub async fn register(
    store: &CustomerStore,
    registration: Registration,
) -> Result<(Customer, Outcome), CustomerError> {
    let Registration {
        email,
        password,
        name,
        role,
    } = registration;
    let (password, password_hash) = blocking(move || {
        let hash = password.hash();
        (password, hash)
    })
    .await?;
    let now = service_kit::clock::now();
    let record = CustomerRecord {
        customer: Customer {
            id: uuid::Uuid::new_v4().to_string(),
            email,
            name,
            shipping_address: None,
            role,
            created_at: now.clone(),
            updated_at: now,
        },
        password_hash: password_hash.map_err(CustomerError::Hashing)?,
    };
    match store.insert(&record).await? {
        Insert::Created => Ok((record.customer, Outcome::Created)),
        Insert::EmailTaken => {
            let existing = store
                .find_by_email(&record.customer.email)
                .await?
                .ok_or(CustomerError::EmailTaken)?;
            let same_registration = existing.customer.name == record.customer.name
                && existing.customer.role == record.customer.role
                && check_password(password, existing.password_hash.clone()).await?;
            if same_registration {
                Ok((existing.customer, Outcome::Existing))
            } else {
                Err(CustomerError::EmailTaken)
            }
        }
    }
}

/// Returns the customer whose email and password these are.
pub async fn verify_credentials(
    store: &CustomerStore,
    email: &Email,
    password: Password,
) -> Result<Customer, CustomerError> {
    let found = store.find_by_email(email).await?;
    let hash = found
        .as_ref()
        .map_or_else(|| DECOY_HASH.to_owned(), |r| r.password_hash.clone());
    // Always pay for one hash check, so response time does not reveal whether the
    // email is registered.
    let matches = check_password(password, hash).await?;
    match found {
        Some(record) if matches => Ok(record.customer),
        _ => Err(CustomerError::InvalidCredentials),
    }
}

pub async fn get(store: &CustomerStore, id: &str) -> Result<Customer, CustomerError> {
    store
        .get(id)
        .await?
        .map(|record| record.customer)
        .ok_or_else(|| CustomerError::NotFound(id.to_owned()))
}

pub async fn update_profile(
    store: &CustomerStore,
    id: &str,
    update: &ProfileUpdate,
) -> Result<Customer, CustomerError> {
    store
        .update_profile(id, update, &service_kit::clock::now())
        .await?
        .map(|record| record.customer)
        .ok_or_else(|| CustomerError::NotFound(id.to_owned()))
}

/// Changes a customer's password from `current` to `new`. A retry of a change already
/// made (the stored password is `new` now) is success too; a wrong `current` is
/// [`CustomerError::InvalidCredentials`].
pub async fn change_password(
    store: &CustomerStore,
    id: &str,
    current: Password,
    new: Password,
) -> Result<Customer, CustomerError> {
    let record = store
        .get(id)
        .await?
        .ok_or_else(|| CustomerError::NotFound(id.to_owned()))?;
    let stored = record.password_hash.clone();
    // The new hash only for the right current password: hashing is the costly part.
    let (new, new_hash) = blocking(move || {
        let new_hash = current.matches(&stored).then(|| new.hash());
        (new, new_hash)
    })
    .await?;
    let Some(new_hash) = new_hash else {
        // Already changed by this very request's first attempt?
        return if check_password(new, record.password_hash).await? {
            Ok(record.customer)
        } else {
            Err(CustomerError::InvalidCredentials)
        };
    };
    let new_hash = new_hash.map_err(CustomerError::Hashing)?;
    let now = service_kit::clock::now();
    if store
        .replace_password_hash(id, &record.password_hash, &new_hash, &now)
        .await?
    {
        Ok(record.customer)
    } else {
        // Changed meanwhile by another request: the current password is no longer it.
        Err(CustomerError::InvalidCredentials)
    }
}

async fn check_password(password: Password, hash: String) -> Result<bool, CustomerError> {
    blocking(move || password.matches(&hash)).await
}

/// Argon2 takes tens of milliseconds of CPU; keep it off the async worker threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CustomerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| CustomerError::Hashing(error.to_string()))
}
