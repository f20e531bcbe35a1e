//! HTTP routes of the notification service. The service is private: the order saga
//! records notifications; the gateway lists them and marks them read for their user.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use service_kit::Problem;
use service_kit::extract::{Json, Path, Query};
use service_kit::pagination;
use service_kit::validate::{parse_id, parse_text, parse_token, path_id};

use saga_contract::calls::RecordNotificationBody;

use crate::domain::{Notification, parse_seq};
use crate::operations::{self, FeedPage};
use crate::store::NotificationStore;

pub fn routes(store: Arc<NotificationStore>) -> Router {
    Router::new()
        .route("/users/{user_id}/notifications", get(list).post(record))
        .route("/users/{user_id}/notifications/{id}/read", post(mark_read))
        .with_state(store)
}

/// 201 with the new notification, 200 with the first one when the key repeats.
async fn record(
    State(store): State<Arc<NotificationStore>>,
    Path(user_id): Path<String>,
    Json(body): Json<RecordNotificationBody>,
) -> Result<(StatusCode, Json<Notification>), Problem> {
    let draft = Notification {
        id: String::new(),
        user_id: parse_id(&user_id, "user_id").map_err(Problem::invalid)?,
        // Keys are usually derived from an id (`<order id>.<event>`), hence longer.
        key: parse_token(&body.key, "key", 128).map_err(Problem::invalid)?,
        kind: body.kind,
        title: parse_text(&body.title, "title", 200, false).map_err(Problem::invalid)?,
        body: match body.body.trim() {
            "" => String::new(),
            text => parse_text(text, "body", 2000, true).map_err(Problem::invalid)?,
        },
        order_id: body
            .order_id
            .map(|id| parse_id(&id, "order_id"))
            .transpose()
            .map_err(Problem::invalid)?,
        data: body.data,
        created_at: service_kit::clock::now(),
        read_at: None,
    };
    let (notification, outcome) = operations::record(store.as_ref(), draft).await?;
    Ok(outcome.reply(notification))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// The user's notifications after `after` (default: from the start), oldest first.
async fn list(
    State(store): State<Arc<NotificationStore>>,
    Path(user_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<FeedPage>, Problem> {
    let user_id = path_id(&user_id, "user_id")?;
    let after = match query.after.as_deref() {
        Some(after) => parse_seq(after, "after").map_err(Problem::bad_request)?,
        None => 0,
    };
    let limit = pagination::limit(query.limit)?;
    Ok(Json(
        operations::list_after(store.as_ref(), &user_id, after, limit).await?,
    ))
}

async fn mark_read(
    State(store): State<Arc<NotificationStore>>,
    Path((user_id, id)): Path<(String, String)>,
) -> Result<Json<Notification>, Problem> {
    let user_id = path_id(&user_id, "user_id")?;
    let seq = parse_seq(&id, "id").map_err(Problem::not_found)?;
    Ok(Json(
        operations::mark_read(store.as_ref(), &user_id, seq).await?,
    ))
}
