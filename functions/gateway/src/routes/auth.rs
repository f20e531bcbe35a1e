//! Registration, login, token refresh and logout.

use axum::extract::State;
use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;
use service_kit::Problem;
use service_kit::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Shared;
use crate::downstream::Service;
use crate::models::{Customer, LoginRequest, RefreshRequest, RegisterRequest, TokenPair};
use crate::openapi::ProblemDoc;
use crate::sessions::Refresh;

pub fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// Creates a customer account.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = Customer),
        (status = 200, description = "The same registration again", body = Customer),
        (status = 409, description = "Email already registered", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email, password or name", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn register(
    State(state): State<Shared>,
    Json(body): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<Customer>), Problem> {
    // Everyone registers as a customer: admins are made by an administrator.
    let request = json!({"email": body.email, "password": body.password, "name": body.name, "role": "customer"});
    let customer: Customer = state
        .services
        .send(
            Service::Customer,
            Method::POST,
            "/customers",
            Some(&request),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// Exchanges email and password for an access token and a refresh token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Wrong email or password", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<Shared>,
    Json(body): Json<LoginRequest>,
) -> Result<Json<TokenPair>, Problem> {
    if !state.tokens.issues_tokens() {
        return Err(Problem::not_found("Log in with the identity provider."));
    }
    let request = json!({"email": body.email, "password": body.password});
    let customer: Customer = state
        .services
        .send(
            Service::Customer,
            Method::POST,
            "/credentials/verify",
            Some(&request),
        )
        .await?;
    let refresh_token = state.sessions.start(&customer.id).await?;
    token_pair(&state, &customer, refresh_token).await.map(Json)
}

/// A new access token for `customer`, with the refresh token that goes with it.
async fn token_pair(
    state: &Shared,
    customer: &Customer,
    refresh_token: String,
) -> Result<TokenPair, Problem> {
    let access = state.tokens.issue(&customer.id, customer.role).await?;
    Ok(TokenPair {
        access_token: access.access_token,
        token_type: access.token_type,
        expires_in: access.expires_in,
        refresh_token,
    })
}

fn invalid_refresh() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
        "Invalid refresh token",
    )
    .with_detail("The refresh token is unknown, expired, revoked or already used. Log in again.")
}

/// Exchanges a refresh token (once) for a new access token and refresh token.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenPair),
        (status = 401, description = "Unknown, expired, revoked or reused token", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<Shared>,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, Problem> {
    if !state.tokens.issues_tokens() {
        return Err(Problem::not_found(
            "Refresh tokens with the identity provider.",
        ));
    }
    let (user_id, refresh_token) = match state.sessions.refresh(&body.refresh_token).await? {
        Refresh::Rotated { user_id, token } => (user_id, token),
        Refresh::Refused => return Err(invalid_refresh()),
        Refresh::Replayed => {
            tracing::warn!("a used refresh token was presented again; its family is revoked");
            return Err(invalid_refresh());
        }
    };
    // The role may have changed since login: ask the customer service again.
    let customer: Customer = state
        .services
        .get(Service::Customer, &format!("/customers/{user_id}"))
        .await
        .map_err(|error| {
            if error.is_not_found() {
                invalid_refresh()
            } else {
                error.into()
            }
        })?;
    token_pair(&state, &customer, refresh_token).await.map(Json)
}

/// Revokes the refresh token and every token issued from the same login.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Logged out")))]
async fn logout(
    State(state): State<Shared>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode, Problem> {
    state.sessions.revoke(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
