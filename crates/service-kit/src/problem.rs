//! RFC 9457 problem details: the one shape every error takes on the wire.
//!
//! A `Problem` carries only what a client may see. Internal causes are logged where
//! they happen (see [`Problem::internal`]) and never copied into the body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use saga_contract::Refusal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const CONTENT_TYPE: &str = "application/problem+json";

/// An `application/problem+json` body. `type` is a stable identifier clients can match
/// on (`/problems/<slug>`); `title` is a fixed summary of that type; `detail` explains
/// this occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members, e.g. the SKUs that are out of stock.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extensions: Map<String, Value>,
    /// Seconds to send in `Retry-After` (a 429 or a 503 that knows when to come back).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            type_uri: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    /// Answers with `Retry-After: <seconds>` (at least 1).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_extension(mut self, key: &str, value: impl Serialize) -> Self {
        // Serialising plain data (strings, numbers, vectors of them) cannot fail.
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// The slug part of `type`, e.g. `out-of-stock`.
    pub fn slug(&self) -> &str {
        self.type_uri.rsplit('/').next().unwrap_or_default()
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 400: the request is malformed (syntax, query string, path).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::refused(Refusal::BadRequest, detail)
    }

    /// 422: well-formed, but the values break a rule (zero quantity, unknown field...).
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::refused(Refusal::ValidationFailed, detail)
    }

    /// A business refusal (`saga_contract::Refusal`): the saga ends a step for good on
    /// these, so every service builds them from the one list.
    pub fn refused(refusal: Refusal, detail: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::CONFLICT);
        Self::new(status, refusal.as_str(), refusal.title()).with_detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").with_detail(detail)
    }

    pub fn conflict(slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, title).with_detail(detail)
    }

    /// 503 for a dependency that is temporarily unavailable; retrying later may succeed.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
        )
        .with_detail(detail)
    }

    /// 500 with an opaque body. Log the cause before calling this: it is not kept.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
        )
        .with_detail("The request could not be completed. It is safe to retry.")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let retry_after = self.retry_after;
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_rfc9457_members_and_extensions() {
        let problem = Problem::conflict("out-of-stock", "Out of stock", "SKU-1 has 0 left")
            .with_extension("skus", ["SKU-1"]);
        let json = serde_json::to_value(&problem).expect("serialises");
        assert_eq!(json["type"], "/problems/out-of-stock");
        assert_eq!(json["status"], 409);
        assert_eq!(json["detail"], "SKU-1 has 0 left");
        assert_eq!(json["skus"][0], "SKU-1");
        assert_eq!(problem.slug(), "out-of-stock");
    }

    #[test]
    fn responds_with_problem_content_type_and_status() {
        let response = Problem::not_found("no order o-1").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }

    #[test]
    fn internal_problem_says_nothing_about_the_cause() {
        let problem = Problem::internal();
        assert_eq!(problem.status, 500);
        assert!(problem.extensions.is_empty());
    }
}
