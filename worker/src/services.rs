//! HTTP clients for the downstream services, each behind its circuit breaker, and the
//! classification of their answers into what a saga step can do about them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::Problem;
use service_kit::sigv4::RequestSigner;

use crate::breaker::{Admission, CircuitBreaker};

/// Why a call to a service did not produce its answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The service answered and refused (a 4xx such as out of stock or declined):
    /// the same request will be refused again, so retrying cannot help.
    #[error("{service} refused: {detail}")]
    Refused {
        service: &'static str,
        status: u16,
        /// The problem type slug, e.g. `out-of-stock`.
        kind: String,
        detail: String,
    },
    /// No answer, or a 5xx, 408 or 429: the service may answer later.
    #[error("{service} failed: {detail}")]
    Transient {
        service: &'static str,
        detail: String,
    },
    /// The breaker is open; nothing was sent.
    #[error("{service} circuit open; retry in {}ms", retry_after.as_millis())]
    CircuitOpen {
        service: &'static str,
        retry_after: Duration,
    },
}

/// One downstream service.
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
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, CallError> {
        self.send(Method::POST, path, body).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CallError> {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Sends one request through the breaker and classifies the answer.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, CallError> {
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
            Err(error) => Err(CallError::Transient {
                service,
                detail: describe(&error),
            }),
        };
        match &outcome {
            Err(CallError::Transient { .. }) => self.breaker.record_failure(Instant::now()),
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
            // Unsigned, the service refuses it (403) and the call is reported refused.
            tracing::error!(%error, "cannot sign a service call");
        }
        self.http.execute(request).await
    }
}

async fn classify<T: DeserializeOwned>(
    service: &'static str,
    response: reqwest::Response,
) -> Result<T, CallError> {
    let status = response.status();
    if status.is_success() {
        return response
            .json::<T>()
            .await
            .map_err(|error| CallError::Transient {
                service,
                detail: format!("unreadable answer: {}", describe(&error)),
            });
    }
    let problem = response.json::<Problem>().await.ok();
    let detail = problem
        .as_ref()
        .map(|p| p.detail.clone().unwrap_or_else(|| p.title.clone()))
        .unwrap_or_else(|| status.to_string());
    if is_transient(status) {
        return Err(CallError::Transient {
            service,
            detail: format!("{} {detail}", status.as_u16()),
        });
    }
    Err(CallError::Refused {
        service,
        status: status.as_u16(),
        kind: problem.map(|p| p.slug().to_owned()).unwrap_or_default(),
        detail,
    })
}

fn is_transient(status: StatusCode) -> bool {
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
mod tests {
    use super::*;

    #[test]
    fn server_errors_timeouts_and_throttling_are_transient() {
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(
                is_transient(StatusCode::from_u16(status).expect("valid")),
                "{status}"
            );
        }
        for status in [400, 402, 404, 409, 422] {
            assert!(
                !is_transient(StatusCode::from_u16(status).expect("valid")),
                "{status}"
            );
        }
    }
}
