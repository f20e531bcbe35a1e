//! The caller's notification feed: every saga event, in order, with gap-free ids.

use axum::extract::State;
use reqwest::Method;
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::{Json, Path, Query};
use utoipa::IntoParams;

use super::{ApiRoutes, Shared};
use crate::auth::AuthUser;
use crate::downstream::Service;
use crate::models::{Notification, NotificationPage};
use crate::openapi::ProblemDoc;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(list_notifications))
        .routes(api_routes!(mark_read))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// The last id seen; the answer starts after it (default: from the start).
    #[param(pattern = r"^(0|[1-9][0-9]{0,18})$")]
    pub after: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A notification id, as the feed numbers them.
pub fn feed_id(raw: &str) -> Option<u64> {
    raw.parse::<u64>().ok().filter(|n| n.to_string() == raw)
}

/// The caller's notifications after a cursor, oldest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(FeedParams),
    responses(
        (status = 200, description = "A page of the feed", body = NotificationPage),
        (status = 400, description = "Bad cursor or limit", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn list_notifications(
    State(state): State<Shared>,
    user: AuthUser,
    Query(params): Query<FeedParams>,
) -> Result<Json<NotificationPage>, Problem> {
    let after = match params.after.as_deref() {
        Some(raw) => feed_id(raw)
            .ok_or_else(|| Problem::bad_request("`after` must be a notification id."))?,
        None => 0,
    };
    let limit = params
        .limit
        .map(|l| format!("&limit={l}"))
        .unwrap_or_default();
    let path = format!("/users/{}/notifications?after={after}{limit}", user.id);
    Ok(Json(
        state.services.get(Service::NOTIFICATION, &path).await?,
    ))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(post, path = "/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification id")),
    responses(
        (status = 200, description = "The notification, read", body = Notification),
        (status = 404, description = "No such notification of the caller's", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn mark_read(
    State(state): State<Shared>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Notification>, Problem> {
    let id = feed_id(&id).ok_or_else(|| Problem::not_found("There is no such notification."))?;
    let path = format!("/users/{}/notifications/{id}/read", user.id);
    Ok(Json(
        state
            .services
            .send(Service::NOTIFICATION, Method::POST, &path, None::<&()>)
            .await?,
    ))
}
