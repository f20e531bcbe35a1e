//! HTTP clients for the downstream services, each behind its circuit breaker, and the
//! classification of their answers into what a saga step can do about them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use saga_contract::Refusal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::downstream;
use service_kit::sigv4::RequestSigner;

use crate::breaker::{Admission, CircuitBreaker};

/// Why a call to a service did not produce its answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The service answered with one of its business refusals (out of stock,
    /// declined...: a [`Refusal`]): the same request will be refused again. Everything
    /// else a service, a router or the IAM front door can say (a 401 or 403 from a
    /// signing failure, a bare 404, a 408, a 429, a 5xx) may clear, so it is retried.
    #[error("{service} refused: {detail}")]
    Refused {
        service: &'static str,
        status: u16,
        kind: Refusal,
        detail: String,
    },
    /// An answer that is not a business outcome: a 4xx without one of the services'
    /// refusal types (401/403 from IAM, a bare 404 from a router...). The service or
    /// its front door is up; the cause lies elsewhere and may clear.
    #[error("{service} answered {status}: {detail}")]
    Unexpected {
        service: &'static str,
        status: u16,
        /// The problem type slug, when the answer was a problem.
        kind: Option<String>,
        detail: String,
    },
    /// No answer, or a 5xx, 408 or 429: the service may answer later.
    #[error("{service} failed: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
        /// The detail of the service's own problem, when it answered with one: written
        /// for clients, so it may be shown to the customer.
        problem: Option<String>,
    },
    /// The breaker is open; nothing was sent.
    #[error("{service} circuit open; retry in {}ms", retry_after.as_millis())]
    CircuitOpen {
        service: &'static str,
        retry_after: Duration,
    },
}

impl CallError {
    /// What the customer may read of this failure (it goes into the saga's timeline and
    /// notifications): the services' own problem details, which are written for
    /// clients, and otherwise only which service failed and how. Addresses and
    /// transport errors stay in the worker's log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Refused {
                service, detail, ..
            } => format!("{service} refused: {detail}"),
            Self::Unexpected {
                service, status, ..
            } => format!("{service} answered {status}"),
            Self::Unavailable {
                service,
                problem: Some(problem),
                ..
            } => format!("{service} is unavailable: {problem}"),
            Self::Unavailable { service, .. } => format!("{service} is unavailable"),
            Self::CircuitOpen {
                service,
                retry_after,
            } => format!(
                "{service} is unavailable; next try in {} s",
                retry_after.as_secs().max(1)
            ),
        }
    }

    /// The service answered 404 with its own `not-found` problem: the resource does
    /// not exist (the rule of [`downstream::CallError::is_not_found`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Unexpected { status, kind, .. } if downstream::means_not_found(*status, kind.as_deref()))
    }
}

/// Whether a command's success wrote something: the services answer the first write
/// 201 and a repeat of it 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    Already,
}

impl From<StatusCode> for Written {
    fn from(status: StatusCode) -> Self {
        if status == StatusCode::CREATED {
            Self::New
        } else {
            Self::Already
        }
    }
}

/// A service's client (the one of `service-kit`) behind its circuit breaker.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    client: downstream::ServiceClient,
    breaker: Arc<CircuitBreaker>,
}

impl ServiceClient {
    pub fn new(
        base_url: impl Into<String>,
        http: reqwest::Client,
        breaker: Arc<CircuitBreaker>,
        signer: Option<RequestSigner>,
    ) -> Self {
        Self {
            client: downstream::ServiceClient::new(breaker.service(), base_url, http, signer),
            breaker,
        }
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        let response = self.send(Method::GET, path, None::<&()>).await?;
        self.body_of(response).await
    }

    /// A command whose success is all the saga needs: the answer's body is not parsed
    /// (a 204 has none).
    pub async fn post(&self, path: &str, body: Option<&impl Serialize>) -> Result<(), CallError> {
        let response = self.send(Method::POST, path, body).await?;
        downstream::drain(response).await;
        Ok(())
    }

    /// A `PUT` that creates what the saga reads back from its answer, and whether
    /// this call wrote it.
    pub async fn put_for<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<(T, Written), CallError> {
        let response = self.send(Method::PUT, path, Some(body)).await?;
        let written = Written::from(response.status());
        Ok((self.body_of(response).await?, written))
    }

    /// Like [`Self::post`], telling a first write from a repeat.
    pub async fn post_for_status(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Written, CallError> {
        let response = self.send(Method::POST, path, body).await?;
        let written = Written::from(response.status());
        downstream::drain(response).await;
        Ok(written)
    }

    /// Like [`Self::post`].
    pub async fn put(&self, path: &str, body: &impl Serialize) -> Result<(), CallError> {
        let response = self.send(Method::PUT, path, Some(body)).await?;
        downstream::drain(response).await;
        Ok(())
    }

    /// Sends one request through the breaker: a success answers the response, whose
    /// body is still to read.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<reqwest::Response, CallError> {
        let service = self.breaker.service();
        if let Admission::Rejected { retry_after } = self.breaker.admit(Instant::now()) {
            return Err(CallError::CircuitOpen {
                service,
                retry_after,
            });
        }
        let outcome = self
            .client
            .send(method, path, body)
            .await
            .map_err(|error| CallError::from_call(service, error));
        match &outcome {
            Err(CallError::Unavailable { .. }) => self.breaker.record_failure(Instant::now()),
            // Any answer other than a failure proves the service is up.
            _ => self.breaker.record_success(),
        }
        outcome
    }

    async fn body_of<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, CallError> {
        downstream::read_json(response)
            .await
            .map_err(|error| CallError::from_call(self.breaker.service(), error))
    }
}

impl CallError {
    /// What a saga step makes of a call's failure: a 4xx with one of the services'
    /// business problem types is a refusal, any other 4xx unexpected.
    pub fn from_call(service: &'static str, error: downstream::CallError) -> Self {
        match error {
            downstream::CallError::Unavailable { detail, problem } => Self::Unavailable {
                service,
                detail,
                problem: problem.and_then(|p| p.detail),
            },
            downstream::CallError::Answered { status, problem } => {
                let detail = problem
                    .as_ref()
                    .map(|p| p.detail.clone().unwrap_or_else(|| p.title.clone()))
                    .unwrap_or_else(|| status.to_string());
                let kind = problem.map(|p| p.slug().to_owned());
                match kind.as_deref().and_then(Refusal::from_slug) {
                    Some(kind) => Self::Refused {
                        service,
                        status,
                        kind,
                        detail,
                    },
                    None => Self::Unexpected {
                        service,
                        status,
                        kind,
                        detail,
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
