//! HTTP clients for the downstream services, each behind its circuit breaker, and the
//! classification of their answers into what a saga step can do about them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use saga_contract::Refusal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::Problem;
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
    /// not exist (unlike a bare 404 from a router, which says nothing about it).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Unexpected { status: 404, kind: Some(kind), .. } if kind == "not-found")
    }
}

/// One downstream service.
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

#[derive(Debug, Clone)]
pub struct ServiceClient {
    base_url: String,
    http: reqwest::Client,
    breaker: Arc<CircuitBreaker>,
    /// On AWS, the services' function URLs only answer SigV4-signed requests.
    signer: Option<RequestSigner>,
}

impl ServiceClient {
    pub fn new(
        base_url: impl Into<String>,
        http: reqwest::Client,
        breaker: Arc<CircuitBreaker>,
        signer: Option<RequestSigner>,
    ) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http,
            breaker,
            signer,
        }
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        let response = self.send(Method::GET, path, None::<&()>).await?;
        answer_body(self.breaker.service(), response).await
    }

    /// A command whose success is all the saga needs: the answer's body is not parsed
    /// (a 204 has none).
    pub async fn post(&self, path: &str, body: Option<&impl Serialize>) -> Result<(), CallError> {
        let response = self.send(Method::POST, path, body).await?;
        done(response).await;
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
        Ok((
            answer_body(self.breaker.service(), response).await?,
            written,
        ))
    }

    /// Like [`Self::post`], telling a first write from a repeat.
    pub async fn post_for_status(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Written, CallError> {
        let response = self.send(Method::POST, path, body).await?;
        let written = Written::from(response.status());
        done(response).await;
        Ok(written)
    }

    /// Like [`Self::post`].
    pub async fn put(&self, path: &str, body: &impl Serialize) -> Result<(), CallError> {
        let response = self.send(Method::PUT, path, Some(body)).await?;
        done(response).await;
        Ok(())
    }

    /// Sends one request through the breaker and classifies the answer: a success
    /// answers the response, whose body is still to read.
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
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request.json(body);
        }
        let outcome = match self.execute(request).await {
            Ok(response) => classify(service, response).await,
            Err(error) => Err(CallError::Unavailable {
                service,
                detail: describe(&error),
                problem: None,
            }),
        };
        match &outcome {
            Err(CallError::Unavailable { .. }) => self.breaker.record_failure(Instant::now()),
            // Any answer other than a failure proves the service is up.
            _ => self.breaker.record_success(),
        }
        outcome
    }
}

impl ServiceClient {
    async fn execute(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let Some(signer) = &self.signer else {
            return request.send().await;
        };
        let mut request = request.build()?;
        if let Err(error) = signer.sign(&mut request).await {
            // Unsigned, the function URL answers 403, which is retried: credentials
            // that failed to refresh may work on the next attempt.
            tracing::error!(%error, "cannot sign a service call");
        }
        self.http.execute(request).await
    }
}

/// A successful answer's body.
async fn answer_body<T: DeserializeOwned>(
    service: &'static str,
    response: reqwest::Response,
) -> Result<T, CallError> {
    response
        .json::<T>()
        .await
        .map_err(|error| CallError::Unavailable {
            service,
            detail: format!("unreadable answer: {}", describe(&error)),
            problem: None,
        })
}

async fn classify(
    service: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let problem = response.json::<Problem>().await.ok();
    let detail = problem
        .as_ref()
        .map(|p| p.detail.clone().unwrap_or_else(|| p.title.clone()))
        .unwrap_or_else(|| status.to_string());
    if is_unavailable(status) {
        return Err(CallError::Unavailable {
            service,
            detail: format!("{} {detail}", status.as_u16()),
            problem: problem.and_then(|p| p.detail),
        });
    }
    let kind = problem.map(|p| p.slug().to_owned());
    match kind.as_deref().and_then(Refusal::from_slug) {
        Some(refusal) if status.is_client_error() => Err(CallError::Refused {
            service,
            status: status.as_u16(),
            kind: refusal,
            detail,
        }),
        _ => Err(CallError::Unexpected {
            service,
            status: status.as_u16(),
            kind,
            detail,
        }),
    }
}

/// Reads a successful answer to its end, so that its connection goes back to the pool;
/// the service has done what was asked, whatever happens to the rest of the body.
async fn done(response: reqwest::Response) {
    let _ = response.bytes().await;
}

/// Answers that say the service is overloaded or down: they count against its breaker.
fn is_unavailable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests;
