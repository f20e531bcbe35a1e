//! The `/v1` API. Every handler carries its OpenAPI description, and routes are
//! registered from those descriptions, so the published document lists exactly the
//! routes that exist (`api_routes!`, in `documented.rs`).

#[macro_use]
pub mod documented;

pub mod admin;
pub mod attention;
pub mod auth;
pub mod catalog;
pub mod codec;
pub mod me;
pub mod notifications;
pub mod operations;

use std::sync::Arc;

use crate::AppState;
pub use documented::ApiRoutes;
use serde::Deserialize;
use service_kit::Problem;
use service_kit::validate::parse_id;
use utoipa::IntoParams;

pub type Shared = Arc<AppState>;

pub fn api() -> ApiRoutes {
    ApiRoutes::new()
        .merge(auth::routes())
        .merge(catalog::routes())
        .merge(me::routes())
        .merge(crate::orders::routes::routes())
        .merge(crate::orders::decisions::routes())
        .merge(notifications::routes())
        .merge(admin::routes())
        .merge(attention::routes())
        .merge(operations::routes())
        .merge(codec::routes())
        .merge(crate::events::routes::routes())
}

/// An id in a path: one that cannot exist is simply not found.
pub fn path_id(raw: &str, what: &str) -> Result<String, Problem> {
    parse_id(raw, what).map_err(|_| Problem::not_found(format!("There is no such {what}.")))
}

/// A page cursor as the services issue them (base64url); anything else is refused
/// here rather than forwarded.
pub fn cursor(raw: Option<&str>) -> Result<Option<&str>, Problem> {
    match raw {
        Some(c)
            if c.is_empty()
                || c.len() > 1024
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Err(Problem::bad_request(
                "`cursor` is not a cursor returned by this API.",
            ))
        }
        other => Ok(other),
    }
}

/// The paging of a list: the catalog's, the caller's orders.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// `?limit=..&cursor=..` for a service path.
pub fn page_query(limit: Option<u32>, cursor_value: Option<&str>) -> Result<String, Problem> {
    let mut params = Vec::new();
    if let Some(limit) = limit {
        params.push(format!("limit={limit}"));
    }
    if let Some(cursor) = cursor(cursor_value)? {
        params.push(format!("cursor={cursor}"));
    }
    Ok(if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    })
}
