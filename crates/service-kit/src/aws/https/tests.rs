//! The client through a real SDK client (DynamoDB's), against servers on loopback: plain
//! HTTP as the emulators speak it, and TLS with a certificate of a test CA
//! (`testdata/`: a CA and a `localhost` certificate it signed, valid for a century,
//! trusted nowhere but in these tests).

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::{Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::error::SdkError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const TABLES: &str = r#"{"TableNames":["orders"]}"#;

fn dynamo(
    endpoint: &str,
    http: WebPkiClient,
    read_timeout: Option<Duration>,
) -> aws_sdk_dynamodb::Client {
    let mut timeouts = TimeoutConfig::builder().connect_timeout(Duration::from_secs(5));
    timeouts.set_read_timeout(read_timeout);
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(SharedHttpClient::new(http))
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts.build())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Answers one request on `stream` with `body`, as DynamoDB would.
async fn answer(mut stream: impl AsyncRead + AsyncWrite + Unpin, body: &str) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    // The body too: closing with it unread would reset the connection.
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut request_body = vec![0u8; length];
    if stream.read_exact(&mut request_body).await.is_err() {
        return;
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn plain_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, TABLES));
        }
    });
    format!("http://{address}")
}

async fn tls_server() -> String {
    let certs = CertificateDer::pem_slice_iter(include_bytes!("testdata/localhost.pem"))
        .collect::<Result<Vec<_>, _>>()
        .expect("the test certificate");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/localhost.key"))
        .expect("the test key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    answer(stream, TABLES).await;
                }
            });
        }
    });
    format!("https://localhost:{port}")
}

fn test_ca() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(include_bytes!("testdata/test-ca.pem")) {
        roots
            .add(cert.expect("the test CA"))
            .expect("a trust anchor");
    }
    roots
}

fn client(roots: RootCertStore) -> WebPkiClient {
    WebPkiClient::new(roots).expect("a TLS configuration")
}

#[tokio::test]
async fn an_sdk_call_over_plain_http_reaches_a_local_emulator() {
    let endpoint = plain_server().await;
    let output = dynamo(&endpoint, client(mozilla_roots()), None)
        .list_tables()
        .send()
        .await
        .expect("an answer");
    assert_eq!(output.table_names(), ["orders"]);
}

#[tokio::test]
async fn a_certificate_of_a_trusted_root_is_accepted_over_tls() {
    let endpoint = tls_server().await;
    let output = dynamo(&endpoint, client(test_ca()), None)
        .list_tables()
        .send()
        .await
        .expect("an answer over TLS");
    assert_eq!(output.table_names(), ["orders"]);
}

#[tokio::test]
async fn a_certificate_mozilla_does_not_vouch_for_is_refused_as_a_retryable_io_failure() {
    let endpoint = tls_server().await;
    let error = dynamo(&endpoint, client(mozilla_roots()), None)
        .list_tables()
        .send()
        .await
        .expect_err("an untrusted certificate");
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("not a dispatch failure: {error:?}");
    };
    assert!(failure.is_io(), "{failure:?}");
    let text = format!("{:?}", failure.as_connector_error());
    assert!(text.contains("UnknownIssuer"), "{text}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let error = dynamo(
        &endpoint,
        client(mozilla_roots()),
        Some(Duration::from_millis(200)),
    )
    .list_tables()
    .send()
    .await
    .expect_err("no answer");
    held.abort();
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("not a dispatch failure: {error:?}");
    };
    assert!(failure.is_timeout(), "{failure:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_io_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let error = dynamo(&endpoint, client(mozilla_roots()), None)
        .list_tables()
        .send()
        .await
        .expect_err("refused");
    let SdkError::DispatchFailure(failure) = &error else {
        panic!("not a dispatch failure: {error:?}");
    };
    assert!(failure.is_io(), "{failure:?}");
}

#[test]
fn the_roots_aws_endpoints_chain_to_are_compiled_in() {
    let roots = mozilla_roots();
    for name in [
        "Amazon Root CA 1",
        "Amazon Root CA 2",
        "Amazon Root CA 3",
        "Amazon Root CA 4",
        "Starfield Services Root Certificate Authority - G2",
    ] {
        let found = roots.roots.iter().any(|anchor| {
            anchor
                .subject
                .as_ref()
                .windows(name.len())
                .any(|w| w == name.as_bytes())
        });
        assert!(found, "{name} is not among the roots");
    }
}

#[test]
fn a_proxy_variable_keeps_the_sdk_default_client() {
    assert!(!proxy_configured(|_| false));
    assert!(proxy_configured(|name| name == "https_proxy"));
    assert!(proxy_configured(|name| name == "HTTP_PROXY"));
}
