//! The answer of every idempotent creation: whether the call created the resource or
//! found it already there (a retry, or a concurrent twin). Handlers answer 201 for the
//! first and 200 for the second, with the same body.

use axum::http::StatusCode;

use crate::extract::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Existing,
}

impl Outcome {
    pub fn http_status(self) -> StatusCode {
        match self {
            Self::Created => StatusCode::CREATED,
            Self::Existing => StatusCode::OK,
        }
    }

    /// `201` or `200` with `body`.
    pub fn reply<T>(self, body: T) -> (StatusCode, Json<T>) {
        (self.http_status(), Json(body))
    }
}
