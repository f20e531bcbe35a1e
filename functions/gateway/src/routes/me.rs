//! The caller's own profile.

use axum::extract::State;
use reqwest::Method;
use service_kit::Problem;
use service_kit::extract::Json;

use super::{ApiRoutes, Shared};
use crate::auth::AuthUser;
use crate::downstream::Service;
use crate::models::{Customer, ProfileUpdate};
use crate::openapi::ProblemDoc;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new().routes(api_routes!(get_me, update_me))
}

/// The caller's profile.
#[utoipa::path(get, path = "/v1/me", tag = "profile", security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = Customer),
        (status = 401, description = "No valid access token", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_me(State(state): State<Shared>, user: AuthUser) -> Result<Json<Customer>, Problem> {
    Ok(Json(
        state
            .services
            .get(Service::CUSTOMER, &format!("/customers/{}", user.id))
            .await?,
    ))
}

/// Changes the caller's name or shipping address.
#[utoipa::path(patch, path = "/v1/me", tag = "profile", security(("bearer" = [])), request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The updated profile", body = Customer),
        (status = 422, description = "Invalid values", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn update_me(
    State(state): State<Shared>,
    user: AuthUser,
    Json(body): Json<ProfileUpdate>,
) -> Result<Json<Customer>, Problem> {
    let path = format!("/customers/{}", user.id);
    Ok(Json(
        state
            .services
            .send(Service::CUSTOMER, Method::PATCH, &path, Some(&body))
            .await?,
    ))
}
