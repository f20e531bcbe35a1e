//! Calls to the private services. Their 4xx problems are about the client's request
//! and pass through as they are; anything else becomes an opaque 503, the cause logged.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::Problem;
use service_kit::sigv4::RequestSigner;

use crate::config::{DownstreamUrls, GatewayConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Customer,
    Inventory,
    Order,
    Payment,
    Notification,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Inventory => "inventory",
            Self::Order => "order",
            Self::Payment => "payment",
            Self::Notification => "notification",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Customer,
            Self::Inventory,
            Self::Order,
            Self::Payment,
            Self::Notification,
        ]
        .into_iter()
        .find(|s| s.name() == name)
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
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused(p) if p.status == 404)
    }
}

#[derive(Clone)]
pub struct Downstream {
    http: reqwest::Client,
    /// The base URL of each service this client may call.
    urls: Vec<(Service, String)>,
    /// On AWS, the services' function URLs only answer SigV4-signed requests.
    signer: Option<RequestSigner>,
}

impl Downstream {
    /// A client of every service of `config`.
    pub fn new(
        config: &GatewayConfig,
        signer: Option<RequestSigner>,
    ) -> Result<Self, reqwest::Error> {
        let DownstreamUrls {
            customer,
            inventory,
            order,
            notification,
            payment,
        } = config.services.clone();
        Self::of(
            vec![
                (Service::Customer, customer),
                (Service::Inventory, inventory),
                (Service::Order, order),
                (Service::Payment, payment),
                (Service::Notification, notification),
            ],
            config.downstream_timeout,
            signer,
        )
    }

    /// A client of the services in `urls` only.
    pub fn of(
        urls: Vec<(Service, String)>,
        timeout: std::time::Duration,
        signer: Option<RequestSigner>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            urls,
            signer,
        })
    }

    fn base(&self, service: Service) -> Result<&str, DownstreamError> {
        self.urls
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, url)| url.as_str())
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
        let response = self.request(service, method, path, body).await?;
        response
            .json::<T>()
            .await
            .map_err(|error| unavailable(service, &error))
    }

    /// The raw answer of a GET, for responses the gateway relays byte for byte.
    pub async fn get_bytes(
        &self,
        service: Service,
        path: &str,
    ) -> Result<axum::body::Bytes, DownstreamError> {
        let response = self
            .request(service, Method::GET, path, None::<&()>)
            .await?;
        response
            .bytes()
            .await
            .map_err(|error| unavailable(service, &error))
    }

    async fn request(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<reqwest::Response, DownstreamError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base(service)?));
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut request = request
            .build()
            .map_err(|error| unavailable(service, &error))?;
        if let Some(signer) = &self.signer
            && let Err(error) = signer.sign(&mut request).await
        {
            tracing::error!(%error, "cannot sign a service call");
            return Err(DownstreamError::Unavailable(service));
        }
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|error| unavailable(service, &error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_client_error()
            && status != StatusCode::TOO_MANY_REQUESTS
            && let Ok(problem) = response.json::<Problem>().await
        {
            return Err(DownstreamError::Refused(problem));
        }
        tracing::warn!(service = service.name(), %status, path, "service failed");
        Err(DownstreamError::Unavailable(service))
    }
}

fn unavailable(service: Service, error: &reqwest::Error) -> DownstreamError {
    tracing::warn!(service = service.name(), %error, "service call failed");
    DownstreamError::Unavailable(service)
}
