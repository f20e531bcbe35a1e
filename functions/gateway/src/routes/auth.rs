//! Registration, login, token refresh and logout.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde_json::json;
use service_kit::Problem;
use service_kit::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Shared;
use crate::downstream::{CallError, Service};
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

/// Exchanges email and password for an access token and a refresh token. After a few
/// failures in a row, logins of that account wait longer after each further failure.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Wrong email or password", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins of this account: retry after `Retry-After` seconds", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<Shared>,
    Json(body): Json<LoginRequest>,
) -> Result<Json<TokenPair>, Response> {
    if !state.tokens.issues_tokens() {
        return Err(Problem::not_found("Log in with the identity provider.").into_response());
    }
    // Fails closed: without the count of failures, no password is tried.
    let wait = state
        .login_throttle
        .wait(&body.email)
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    if !wait.is_zero() {
        return Err(throttled(wait));
    }
    let request = json!({"email": body.email, "password": body.password});
    let verified: Result<Customer, _> = state
        .services
        .send(
            Service::Customer,
            Method::POST,
            "/credentials/verify",
            Some(&request),
        )
        .await;
    let customer = match verified {
        Ok(customer) => customer,
        Err(error) => {
            if matches!(&error, CallError::Refused(problem) if problem.status == 401)
                && let Err(store) = state.login_throttle.failed(&body.email).await
            {
                tracing::error!(error = %store, "cannot count a failed login");
            }
            return Err(Problem::from(error).into_response());
        }
    };
    if let Err(error) = state.login_throttle.succeeded(&body.email).await {
        tracing::error!(%error, "cannot reset the failed logins of an account");
    }
    let refresh_token = state
        .sessions
        .start(&customer.id)
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    token_pair(&state, &customer, refresh_token)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

/// 429 for an account whose logins must wait `wait`.
fn throttled(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "login-throttled",
        "Too many failed logins",
    )
    .with_detail(format!(
        "Too many failed logins for this account. Retry in {seconds} s."
    ))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
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
