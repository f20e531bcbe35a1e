//! Calls to the private services, through `service_kit::downstream`. Their 4xx
//! problems are about the client's request and pass through as they are; anything
//! else becomes an opaque 503, the cause logged.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::Problem;
use service_kit::downstream::{self, ServiceClient};
use service_kit::services::{self, ServiceUrls};
use service_kit::sigv4::RequestSigner;

/// A service of `infra/services.json`, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service(&'static str);

impl Service {
    pub const CUSTOMER: Self = Self("customer");
    pub const INVENTORY: Self = Self("inventory");
    pub const ORDER: Self = Self("order");
    pub const PAYMENT: Self = Self("payment");
    pub const NOTIFICATION: Self = Self("notification");

    pub fn name(self) -> &'static str {
        self.0
    }

    /// A service the gateway calls, by name.
    pub fn parse(name: &str) -> Option<Self> {
        services::called_by("gateway")
            .map(|(service, _)| Self(service))
            .find(|service| service.0 == name)
    }
}

/// A service's answer that is not a success.
#[derive(Debug)]
pub enum DownstreamError {
    /// The service refused the request (4xx), with its problem.
    Refused(Problem),
    /// No usable answer; already logged.
    Unavailable(Service),
}

impl From<DownstreamError> for Problem {
    fn from(error: DownstreamError) -> Self {
        match error {
            DownstreamError::Refused(problem) => problem,
            DownstreamError::Unavailable(service) => Problem::unavailable(format!(
                "The {} service is unavailable. Try again shortly.",
                service.name()
            )),
        }
    }
}

impl DownstreamError {
    /// The one rule of `service_kit::downstream`: a 404 with the `not-found` problem.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused(p) if downstream::means_not_found(p.status, Some(p.slug())))
    }

    /// A service's problem passes through; anything else is logged and hidden.
    fn from_call(service: Service, error: downstream::CallError, path: &str) -> Self {
        match error {
            downstream::CallError::Answered {
                problem: Some(problem),
                ..
            } => Self::Refused(problem),
            downstream::CallError::Answered {
                status,
                problem: None,
            } => {
                tracing::warn!(
                    service = service.name(),
                    status,
                    path,
                    "service answered without a problem"
                );
                Self::Unavailable(service)
            }
            downstream::CallError::Unavailable { detail, .. } => {
                tracing::warn!(service = service.name(), %detail, path, "service call failed");
                Self::Unavailable(service)
            }
        }
    }
}

/// A client of each service the gateway calls (the one of `service-kit`).
#[derive(Clone)]
pub struct Downstream {
    clients: Vec<(Service, ServiceClient)>,
}

impl Downstream {
    /// A client of each service in `urls`.
    pub fn new(
        urls: &ServiceUrls,
        timeout: std::time::Duration,
        signer: Option<RequestSigner>,
    ) -> Result<Self, reqwest::Error> {
        let http = downstream::http_client(timeout)?;
        let clients = urls
            .iter()
            .map(|(&name, url)| {
                let client = ServiceClient::new(name, url.clone(), http.clone(), signer.clone());
                (Service(name), client)
            })
            .collect();
        Ok(Self { clients })
    }

    fn client(&self, service: Service) -> Result<&ServiceClient, DownstreamError> {
        self.clients
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, client)| client)
            .ok_or_else(|| {
                tracing::error!(
                    service = service.name(),
                    "no URL configured for this service"
                );
                DownstreamError::Unavailable(service)
            })
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
    ) -> Result<T, DownstreamError> {
        self.send(service, Method::GET, path, None::<&()>).await
    }

    pub async fn send<T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, DownstreamError> {
        self.client(service)?
            .json(method, path, body)
            .await
            .map_err(|error| DownstreamError::from_call(service, error, path))
    }

    /// The raw answer of a GET, for responses the gateway relays byte for byte.
    pub async fn get_bytes(
        &self,
        service: Service,
        path: &str,
    ) -> Result<axum::body::Bytes, DownstreamError> {
        let failed = |error| DownstreamError::from_call(service, error, path);
        let response = self
            .client(service)?
            .send(Method::GET, path, None::<&()>)
            .await
            .map_err(failed)?;
        response.bytes().await.map_err(|error| {
            tracing::warn!(service = service.name(), %error, path, "service answer cut short");
            DownstreamError::Unavailable(service)
        })
    }
}
