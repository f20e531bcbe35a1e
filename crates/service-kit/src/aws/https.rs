//! The HTTP client of the AWS SDK clients: hyper over rustls (with aws-lc-rs, the SDK's
//! own choice), HTTP/1.1, trusting Mozilla's root certificates as compiled into the
//! binary (`webpki-roots`, the roots `reqwest` already trusts for this project's other
//! outbound calls). Certificates are verified exactly as before; only where the roots
//! come from changes: nothing is read or parsed at start.
//!
//! It behaves as the SDK's default client does where it matters to callers: connect and
//! read timeouts from the client's settings, failures sorted into the kinds the SDK's
//! retry strategy acts on (timeouts, I/O errors, a server closing the connection are
//! retried), and connections the SDK asks to poison are not reused. Two differences:
//! HTTP/2 is not offered (no AWS API used here needs it), and proxies are not
//! supported, so with a proxy variable set ([`PROXY_VARIABLES`]) the SDK's default
//! client is used instead, which honours them.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::{CaptureConnection, HttpConnector as TcpConnector};
use hyper_util::client::legacy::{Client, connect::capture_connection};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::{ClientConfig, RootCertStore};

/// The variables that route the SDK's default client through a proxy.
pub const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// The HTTP client for the SDK, or `None` to keep the SDK's default: when a proxy is
/// configured, or (never expected) when rustls refuses the configuration.
pub fn client() -> Option<SharedHttpClient> {
    if proxy_configured(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty())) {
        return None;
    }
    match WebPkiClient::new(mozilla_roots()) {
        Ok(client) => Some(SharedHttpClient::new(client)),
        Err(error) => {
            tracing::warn!(%error, "cannot configure TLS; using the AWS SDK's default HTTP client");
            None
        }
    }
}

/// Whether any of [`PROXY_VARIABLES`] is set, as `is_set` tells.
pub fn proxy_configured(is_set: impl Fn(&str) -> bool) -> bool {
    PROXY_VARIABLES.iter().any(|name| is_set(name))
}

/// Mozilla's root certificates, as trust anchors already parsed at build time.
pub fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Connect and read timeouts: the SDK asks for a connector per pair.
type Timeouts = (Option<Duration>, Option<Duration>);

/// An [`HttpClient`] whose connections trust `roots` only.
#[derive(Debug)]
pub struct WebPkiClient {
    tls: Arc<ClientConfig>,
    /// One connector (and connection pool) per timeouts the SDK asks for; in practice
    /// one for the whole process.
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

impl WebPkiClient {
    pub fn new(roots: RootCertStore) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: Arc::new(tls),
            connectors: Mutex::new(Vec::new()),
        })
    }
}

impl HttpClient for WebPkiClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Connector::new(&self.tls, timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

struct Connector {
    client: Client<HttpsConnector<TcpConnector>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    fn new(tls: &ClientConfig, (connect_timeout, read_timeout): Timeouts) -> Self {
        let mut tcp = TcpConnector::new();
        // The TLS layer above takes https URIs; plain http stays for local emulators.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            // Without a timer the pool never expires idle connections.
            .pool_timer(TokioTimer::new())
            .build(https);
        Self {
            client,
            read_timeout,
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        // The SDK poisons the connection of a failed attempt so that its retry opens a
        // new one: give it the means to.
        let captured = capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || connection_metadata(&captured));
        }
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => response.await,
            }
            .map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let proxied = captured.connection_metadata().as_ref()?.is_proxied();
    let captured = captured.clone();
    Some(
        ConnectionMetadata::builder()
            .proxied(proxied)
            .poison_fn(move || {
                if let Some(connection) = captured.connection_metadata().as_ref() {
                    connection.poison();
                }
            })
            .build(),
    )
}

/// Sorts a failed request into what the SDK's retry strategy acts on: timeouts and
/// I/O failures (refused, reset or closed connections, DNS, TLS handshakes) are
/// transient; a response cut short is too; a request hyper refused to send is the
/// caller's; the rest is unknown, and not retried.
pub fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = chain(&error).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
    });
    if timed_out {
        return ConnectorError::timeout(error.into());
    }
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    let hyper = chain(&error).find_map(|e| e.downcast_ref::<hyper::Error>());
    let user = hyper.is_some_and(hyper::Error::is_user);
    let cut_short = hyper.is_some_and(hyper::Error::is_incomplete_message);
    let closed = hyper.is_some_and(|h| h.is_closed() || h.is_canceled());
    let io = chain(&error).any(|e| e.is::<std::io::Error>());
    if user {
        ConnectorError::user(error.into())
    } else if cut_short {
        ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
    } else if closed || io {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

/// `error`, then each of its sources.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

#[cfg(test)]
mod tests;
