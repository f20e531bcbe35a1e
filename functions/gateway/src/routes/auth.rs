//! Registration, login, token refresh and logout.
//!
//! The refresh token lives in a cookie no script can read (`HttpOnly; Secure;
//! SameSite=Strict`, scoped to `/v1/auth`): the body of a login or refresh carries only
//! the short-lived access token, which the UI keeps in memory. After a reload, the UI
//! gets a new access token from `POST /v1/auth/refresh` with that cookie.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Serialize;
use serde_json::json;
use service_kit::Problem;
use service_kit::extract::Json;

use super::{ApiRoutes, Shared};
use crate::auth::login_throttle::{Attempt, DEVICE_LIFETIME, Reservation, device_cookie_name};
use crate::auth::sessions::Refresh;
use crate::auth::{AccessToken, AuthUser, now_secs};
use crate::downstream::{DownstreamError, Service};
use crate::models::{Customer, LoginRequest, PasswordChange, RegisterRequest};
use crate::openapi::ProblemDoc;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(register))
        .routes(api_routes!(login))
        .routes(api_routes!(refresh))
        .routes(api_routes!(logout))
        .routes(api_routes!(logout_everywhere))
        .routes(api_routes!(change_password))
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
            Service::CUSTOMER,
            Method::POST,
            "/customers",
            Some(&request),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// Exchanges email and password for an access token and a refresh token. Attempts are
/// limited per account: a browser that signed in to the account before (its device
/// cookie) has an allowance of its own; all other clients share a small one.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    params(("login_device_{account}" = Option<String>, Cookie, description = "The device cookie set by an earlier login to this account")),
    responses(
        (status = 200, description = "Logged in; the refresh token is set as the `refresh_token` cookie, the device cookie renewed or set", body = AccessToken,
            headers(("set-cookie" = String, description = "refresh_token=...; Path=/v1/auth; HttpOnly; Secure; SameSite=Strict, and login_device_<account>=...; Path=/v1/auth; HttpOnly; Secure; SameSite=Strict"))),
        (status = 401, description = "Wrong email or password", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many login attempts for this account from this device, or from devices it has not signed in from: retry after `Retry-After` seconds", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<(HeaderMap, Json<AccessToken>), Response> {
    if !state.auth.tokens.issues_tokens() {
        return Err(Problem::not_found("Log in with the identity provider.").into_response());
    }
    let device_cookie = device_cookie_name(&body.email);
    let attempt = reserve_attempt(&state, &headers, &body.email).await?;
    let request = json!({"email": body.email, "password": body.password});
    let customer = check_password(
        &state,
        &attempt,
        Method::POST,
        "/credentials/verify",
        &request,
    )
    .await?;
    let device_token = state
        .auth
        .login_throttle
        .trust_device(&attempt, now_secs())
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    let version = state
        .auth
        .token_versions
        .read(&customer.id)
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    let (mut headers, access) = new_session(&state, &customer, version).await?;
    append_cookie(
        &mut headers,
        &format!(
            "{device_cookie}={device_token}; Path=/v1/auth; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            DEVICE_LIFETIME.as_secs()
        ),
    )
    .map_err(IntoResponse::into_response)?;
    Ok((headers, access))
}

/// Settles a reserved attempt once its password was checked: a wrong password keeps
/// the reservation; a right one from a known device refills that device's allowance
/// (`trust_device`, after this); any other attempt is given back.
async fn settle<T>(state: &Shared, attempt: &Attempt, checked: &Result<T, DownstreamError>) {
    let give_back = match checked {
        Ok(_) => !attempt.from_known_device(),
        Err(DownstreamError::Refused(problem)) => problem.status != 401,
        Err(_) => true,
    };
    if give_back && let Err(error) = state.auth.login_throttle.give_back(attempt).await {
        tracing::error!(%error, "cannot give a login attempt back");
    }
}

/// Sends a request that checks a password (`body` holds it) to the customer service,
/// and settles `attempt` with the answer: the customer when the password was right.
async fn check_password(
    state: &Shared,
    attempt: &Attempt,
    method: Method,
    path: &str,
    body: &impl Serialize,
) -> Result<Customer, Response> {
    let checked: Result<Customer, _> = state
        .services
        .send(Service::CUSTOMER, method, path, Some(body))
        .await;
    settle(state, attempt, &checked).await;
    checked.map_err(|error| Problem::from(error).into_response())
}

/// Reserves an attempt at `email`'s password for a request with `headers` (its device
/// cookie), or the 429 to answer.
async fn reserve_attempt(
    state: &Shared,
    headers: &HeaderMap,
    email: &str,
) -> Result<Attempt, Response> {
    let device = presented_cookie(headers, &device_cookie_name(email));
    // Reserved before the password is checked, so that concurrent guesses all count;
    // fails closed: without the allowance, no password is tried.
    let reservation = state
        .auth
        .login_throttle
        .reserve(email, device.as_deref(), now_secs())
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    match reservation {
        Reservation::Granted(attempt) => Ok(attempt),
        Reservation::Wait(wait) => Err(throttled(wait)),
    }
}

/// 429 for an account whose logins must wait `wait`.
fn throttled(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "login-throttled",
        "Too many login attempts",
    )
    .with_detail(format!(
        "Too many login attempts for this account. Retry in {seconds} s."
    ))
    .with_retry_after(seconds)
    .into_response()
}

/// The name of the refresh token's cookie.
pub const REFRESH_COOKIE: &str = "refresh_token";

/// A new access token for `customer` in the body, and `refresh_token` in the cookie.
async fn signed_in(
    state: &Shared,
    customer: &Customer,
    refresh_token: &str,
    version: u64,
) -> Result<(HeaderMap, Json<AccessToken>), Problem> {
    let access = state
        .auth
        .tokens
        .issue(&customer.id, customer.role, version)
        .await?;
    let max_age = state.config.jwt.refresh_ttl.as_secs();
    let mut headers = cookie_header(&refresh_cookie(refresh_token, max_age))?;
    // Tokens are never kept by a cache on the way, nor by the browser's.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((headers, Json(access)))
}

/// Starts a login session for `customer` (a new refresh token family) and signs them in
/// with it.
async fn new_session(
    state: &Shared,
    customer: &Customer,
    version: u64,
) -> Result<(HeaderMap, Json<AccessToken>), Response> {
    let refresh_token = state
        .auth
        .sessions
        .start(&customer.id, version)
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    signed_in(state, customer, &refresh_token, version)
        .await
        .map_err(IntoResponse::into_response)
}

fn refresh_cookie(value: &str, max_age: u64) -> String {
    format!(
        "{REFRESH_COOKIE}={value}; Path=/v1/auth; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    )
}

fn cookie_header(cookie: &str) -> Result<HeaderMap, Problem> {
    let mut headers = HeaderMap::new();
    append_cookie(&mut headers, cookie)?;
    Ok(headers)
}

fn append_cookie(headers: &mut HeaderMap, cookie: &str) -> Result<(), Problem> {
    let value = HeaderValue::from_str(cookie).map_err(|_| Problem::internal())?;
    headers.append(header::SET_COOKIE, value);
    Ok(())
}

/// The value of the request's cookie `name`.
fn presented_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
}

/// The refresh token from the request's cookies.
fn presented_refresh_token(headers: &HeaderMap) -> Option<String> {
    presented_cookie(headers, REFRESH_COOKIE)
}

fn invalid_refresh() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
        "Invalid refresh token",
    )
    .with_detail("The refresh token is unknown, expired, revoked or already used. Log in again.")
}

/// Exchanges the refresh token cookie (once) for a new access token and a new refresh
/// token cookie.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    params(("refresh_token" = String, Cookie, description = "Set by login or the last refresh")),
    responses(
        (status = 200, description = "A new access token; the cookie holds the next refresh token", body = AccessToken,
            headers(("set-cookie" = String, description = "refresh_token=...; Path=/v1/auth; HttpOnly; Secure; SameSite=Strict"))),
        (status = 401, description = "No, unknown, expired, revoked or reused token", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<(HeaderMap, Json<AccessToken>), Problem> {
    if !state.auth.tokens.issues_tokens() {
        return Err(Problem::not_found(
            "Refresh tokens with the identity provider.",
        ));
    }
    let presented = presented_refresh_token(&headers).ok_or_else(invalid_refresh)?;
    let (user_id, refresh_token, version) = match state.auth.sessions.refresh(&presented).await? {
        Refresh::Rotated {
            user_id,
            token,
            version,
        } => (user_id, token, version),
        Refresh::Refused => return Err(invalid_refresh()),
        Refresh::Replayed => {
            tracing::warn!("a used refresh token was presented again; its family is revoked");
            return Err(invalid_refresh());
        }
    };
    // The role may have changed since login: ask the customer service again.
    let customer: Customer = state
        .services
        .get(Service::CUSTOMER, &format!("/customers/{user_id}"))
        .await
        .map_err(|error| {
            if error.is_not_found() {
                invalid_refresh()
            } else {
                error.into()
            }
        })?;
    signed_in(&state, &customer, &refresh_token, version).await
}

/// Revokes the refresh token and every token issued from the same login, clears the
/// cookie, and closes the user's event streams.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    params(("refresh_token" = Option<String>, Cookie, description = "Set by login or the last refresh; without it, logging out changes nothing")),
    responses((status = 204, description = "Logged out; the cookie is cleared",
        headers(("set-cookie" = String, description = "refresh_token=; Max-Age=0")))))]
async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<(StatusCode, HeaderMap), Problem> {
    if let Some(token) = presented_refresh_token(&headers)
        && let Some(user_id) = state.auth.sessions.revoke(&token).await?
    {
        close_event_streams(&state, &user_id).await;
    }
    Ok((
        StatusCode::NO_CONTENT,
        cookie_header(&refresh_cookie("", 0))?,
    ))
}

/// Changes the caller's password, given the current one (an attempt at it counts like a
/// login's), and signs them out everywhere else: every token issued before stops
/// working; this browser gets new ones.
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; new tokens for this browser (the refresh token in its cookie), every other session revoked", body = AccessToken,
            headers(("set-cookie" = String, description = "refresh_token=...; Path=/v1/auth; HttpOnly; Secure; SameSite=Strict"))),
        (status = 401, description = "No valid access token, or a wrong current password", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks the password rules", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts at this account's password: retry after `Retry-After` seconds", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn change_password(
    State(state): State<Shared>,
    headers: HeaderMap,
    user: AuthUser,
    Json(body): Json<PasswordChange>,
) -> Result<(HeaderMap, Json<AccessToken>), Response> {
    if !state.auth.tokens.issues_tokens() {
        return Err(
            Problem::not_found("Change the password with the identity provider.").into_response(),
        );
    }
    let account: Customer = state
        .services
        .get(Service::CUSTOMER, &format!("/customers/{}", user.id))
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    let attempt = reserve_attempt(&state, &headers, &account.email).await?;
    let path = format!("/customers/{}/password", user.id);
    let customer = check_password(&state, &attempt, Method::PUT, &path, &body).await?;
    let version = state
        .auth
        .token_versions
        .bump(&customer.id)
        .await
        .map_err(|error| Problem::from(error).into_response())?;
    close_event_streams(&state, &customer.id).await;
    new_session(&state, &customer, version).await
}

/// Closes every event stream of `user_id`: on this instance, and on AWS its WebSocket
/// API connections.
async fn close_event_streams(state: &Shared, user_id: &str) {
    state.events.sockets.close_all(user_id);
    if let Some(pusher) = &state.events.pusher {
        crate::events::fanout::disconnect_user(&state.events.connections, pusher, user_id).await;
    }
}

/// Signs the caller out everywhere: every access token and every login (refresh token)
/// issued to them so far stops working, on every device, and their event streams close.
#[utoipa::path(post, path = "/v1/auth/logout-everywhere", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every token issued so far is revoked; this browser's cookie is cleared",
            headers(("set-cookie" = String, description = "refresh_token=; Max-Age=0"))),
        (status = 401, description = "No valid access token", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn logout_everywhere(
    State(state): State<Shared>,
    user: AuthUser,
) -> Result<(StatusCode, HeaderMap), Problem> {
    if !state.auth.tokens.issues_tokens() {
        return Err(Problem::not_found("Sign out with the identity provider."));
    }
    state.auth.token_versions.bump(&user.id).await?;
    close_event_streams(&state, &user.id).await;
    Ok((
        StatusCode::NO_CONTENT,
        cookie_header(&refresh_cookie("", 0))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_token_is_read_from_its_cookie_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; refresh_token=abc123; other=x"),
        );
        assert_eq!(presented_refresh_token(&headers).as_deref(), Some("abc123"));
        let mut empty = HeaderMap::new();
        empty.insert(header::COOKIE, HeaderValue::from_static("refresh_token="));
        assert_eq!(presented_refresh_token(&empty), None);
        assert_eq!(presented_refresh_token(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cookie_is_out_of_scripts_reach_and_scoped_to_auth() {
        let cookie = refresh_cookie("abc", 60);
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/v1/auth",
            "Max-Age=60",
        ] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
    }
}
