//! The one HTTP client to the private services, used by the gateway and the saga's
//! activities alike: it signs (on AWS the services' function URLs answer only
//! SigV4-signed requests), times out, and sorts every answer into a success, an answer
//! of the service (a 4xx, with its problem when it sent one) or no usable answer. What
//! each caller does with an answer (relay it, retry it, open a breaker) is its own.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::Problem;
use crate::sigv4::RequestSigner;

/// A call that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The service, or its front door, answered with a client error other than 408 or
    /// 429: the same request will get the same answer. `problem` is the service's own
    /// problem; IAM's 403 or a router's bare 404 carry none.
    Answered {
        status: u16,
        problem: Option<Problem>,
    },
    /// No answer, an unreadable one, or a 5xx, 408 or 429: the service may answer
    /// later. `problem` is the service's own, when it sent one.
    Unavailable {
        detail: String,
        problem: Option<Problem>,
    },
}

impl CallError {
    /// Whether the resource does not exist: see [`means_not_found`].
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Answered { status, problem } => {
                means_not_found(*status, problem.as_ref().map(Problem::slug))
            }
            Self::Unavailable { .. } => false,
        }
    }
}

/// The one rule for "does not exist": a 404 with the services' `not-found` problem
/// type. A bare 404 (from a router, or a wrong base URL) says nothing about the
/// resource.
pub fn means_not_found(status: u16, problem_slug: Option<&str>) -> bool {
    status == 404 && problem_slug == Some("not-found")
}

/// An HTTP client for calls to the services, with their timeout; share one between
/// the clients of several services so that they share its connection pool.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().timeout(timeout).build()
}

/// A client of one service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    name: &'static str,
    base_url: String,
    http: reqwest::Client,
    signer: Option<RequestSigner>,
}

impl ServiceClient {
    pub fn new(
        name: &'static str,
        base_url: impl Into<String>,
        http: reqwest::Client,
        signer: Option<RequestSigner>,
    ) -> Self {
        Self {
            name,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http,
            signer,
        }
    }

    /// Sends one request: a success answers the response, whose body is still to read.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<reqwest::Response, CallError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut request = request.build().map_err(unavailable)?;
        let span = tracing::info_span!(
            "call",
            service = self.name,
            otel.name = tracing::field::Empty,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            url.path = request.url().path(),
            http.response.status_code = tracing::field::Empty,
        );
        crate::telemetry::name_span(&span, || format!("{} {}", self.name, request.method()));
        // Before signing: SigV4 covers the headers sent.
        crate::telemetry::inject_trace(&span, request.headers_mut());
        if let Some(signer) = &self.signer
            && let Err(error) = signer.sign(&mut request).await
        {
            // Nothing is sent: credentials that failed to refresh may work next time.
            tracing::error!(service = self.name, %error, "cannot sign a service call");
            return Err(CallError::Unavailable {
                detail: "the call could not be signed".to_owned(),
                problem: None,
            });
        }
        let answer = self
            .http
            .execute(request)
            .instrument(span.clone())
            .await
            .map_err(unavailable);
        if let Ok(response) = &answer {
            span.record(
                "http.response.status_code",
                i64::from(response.status().as_u16()),
            );
        }
        let answer = match answer {
            Ok(response) => classify(response).await,
            Err(error) => Err(error),
        };
        // A refusal is an answer; only a call that may succeed later is an error here.
        if matches!(answer, Err(CallError::Unavailable { .. })) {
            span.record("otel.status_code", "error");
        }
        answer
    }

    /// Sends one request and reads the success's JSON body.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, CallError> {
        let response = self.send(method, path, body).await?;
        read_json(response).await
    }
}

/// A successful answer's JSON body.
pub async fn read_json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, CallError> {
    response
        .json::<T>()
        .await
        .map_err(|error| CallError::Unavailable {
            detail: format!("unreadable answer: {}", describe(&error)),
            problem: None,
        })
}

/// Reads a successful answer to its end, so that its connection goes back to the
/// pool; the service has done what was asked, whatever happens to the rest.
pub async fn drain(response: reqwest::Response) {
    let _ = response.bytes().await;
}

/// Sorts an answer: a success, an answer of the service, or none usable.
pub async fn classify(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let problem = response.json::<Problem>().await.ok();
    if is_unavailable(status) || !status.is_client_error() {
        let detail = problem
            .as_ref()
            .map(|p| p.detail.clone().unwrap_or_else(|| p.title.clone()))
            .unwrap_or_else(|| status.to_string());
        return Err(CallError::Unavailable {
            detail: format!("{} {detail}", status.as_u16()),
            problem,
        });
    }
    Err(CallError::Answered {
        status: status.as_u16(),
        problem,
    })
}

/// Answers that say the service is overloaded or down.
fn is_unavailable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

fn unavailable(error: reqwest::Error) -> CallError {
    CallError::Unavailable {
        detail: describe(&error),
        problem: None,
    }
}

/// A transport error without the address it was sent to.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_decode() {
        "the body does not decode".to_owned()
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::answer;

    async fn classified(status: u16, content_type: &str, body: &str) -> CallError {
        classify(answer(status, content_type, body))
            .await
            .expect_err("not a success")
    }

    fn problem(status: u16, slug: &str) -> String {
        serde_json::json!({"type": format!("/problems/{slug}"), "title": slug, "status": status})
            .to_string()
    }

    #[test]
    fn server_errors_timeouts_and_throttling_mean_unavailable() {
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(
                is_unavailable(StatusCode::from_u16(status).expect("valid")),
                "{status}"
            );
        }
        for status in [400, 401, 402, 403, 404, 409, 422] {
            assert!(
                !is_unavailable(StatusCode::from_u16(status).expect("valid")),
                "{status}"
            );
        }
    }

    #[tokio::test]
    async fn a_client_error_is_an_answer_with_the_services_problem_when_it_sent_one() {
        let json = "application/problem+json";
        let refusal = classified(409, json, &problem(409, "out-of-stock")).await;
        assert!(
            matches!(&refusal, CallError::Answered { status: 409, problem: Some(p) } if p.slug() == "out-of-stock"),
            "{refusal:?}"
        );
        // From IAM or a router: no problem at all.
        for status in [401, 403, 404] {
            let error = classified(status, "application/json", r#"{"Message":"Forbidden"}"#).await;
            assert_eq!(
                error,
                CallError::Answered {
                    status,
                    problem: None
                }
            );
            assert!(!error.is_not_found(), "{status}");
        }
        let not_found = classified(404, json, &problem(404, "not-found")).await;
        assert!(not_found.is_not_found(), "{not_found:?}");
        // Another problem on a 404 is not "does not exist".
        let other = classified(404, json, &problem(404, "unknown-route")).await;
        assert!(!other.is_not_found(), "{other:?}");
    }

    #[tokio::test]
    async fn a_server_error_throttling_or_timeout_is_unavailable_whatever_its_problem() {
        let json = "application/problem+json";
        let odd = classified(500, json, &problem(500, "out-of-stock")).await;
        assert!(
            matches!(&odd, CallError::Unavailable { problem: Some(p), .. } if p.slug() == "out-of-stock"),
            "{odd:?}"
        );
        for status in [408, 429, 502, 503] {
            let error = classified(status, "text/plain", "busy").await;
            assert!(
                matches!(&error, CallError::Unavailable { problem: None, detail } if detail.starts_with(&status.to_string())),
                "{status}: {error:?}"
            );
        }
    }
}
