//! The gateway's credentials for Temporal Cloud, read at run time from Secrets Manager
//! (`TEMPORAL_SECRET_ARN`) rather than resolved at deploy time into the function's
//! environment, which anyone allowed to read the function's configuration can read.
//! The worker's task gets the same secret from ECS `Secrets`.
//!
//! The secret is the one the worker reads: an API key (the secret's whole string), or
//! mTLS (`{"tls_cert": "<PEM>", "tls_key": "<PEM>"}`). Whether the connection uses TLS
//! stays the standard environment's choice (`TEMPORAL_TLS=true` on AWS): credentials
//! never turn it on or off. `TEMPORAL_SECRET` holds the value itself (local runs).

use service_kit::config::ConfigError;
use service_kit::secrets::{Secret, SecretError};
use temporalio_client::{ClientTlsOptions, ConnectionOptions};

/// What the secret holds.
#[derive(PartialEq, Eq)]
enum Credentials {
    ApiKey(String),
    Mtls { cert: Vec<u8>, key: Vec<u8> },
}

#[derive(thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Unavailable(#[from] SecretError),
    #[error("the Temporal secret is neither an API key nor {{\"tls_cert\", \"tls_key\"}}")]
    Malformed,
    #[error("mTLS credentials need TLS: set TEMPORAL_TLS=true")]
    MtlsWithoutTls,
}

/// As its message: a gateway that refuses to start prints its error's `Debug`.
impl std::fmt::Debug for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

pub struct TemporalCredentials {
    secret: Secret,
}

impl TemporalCredentials {
    /// `TEMPORAL_SECRET_ARN` (or `TEMPORAL_SECRET`); `None` when neither is set and the
    /// standard environment alone says how to connect (a local server).
    pub async fn from_env() -> Result<Option<Self>, ConfigError> {
        Ok(Secret::from_env("TEMPORAL_SECRET")
            .await?
            .map(|secret| Self { secret }))
    }

    /// Checks that the secret can be read and has one of the two shapes: without it the
    /// gateway refuses to start rather than fail at its first order.
    pub async fn check(&self) -> Result<(), CredentialsError> {
        self.read().await.map(drop)
    }

    /// Adds the credentials to a connection built from the standard environment.
    pub async fn apply(&self, connection: &mut ConnectionOptions) -> Result<(), CredentialsError> {
        match self.read().await? {
            Credentials::ApiKey(key) => connection.api_key = Some(key),
            Credentials::Mtls { cert, key } => {
                let tls = connection
                    .tls_options
                    .as_mut()
                    .ok_or(CredentialsError::MtlsWithoutTls)?;
                tls.client_tls_options = Some(
                    ClientTlsOptions::builder()
                        .client_cert(cert)
                        .client_private_key(key)
                        .build(),
                );
            }
        }
        Ok(())
    }

    async fn read(&self) -> Result<Credentials, CredentialsError> {
        parse(&self.secret.get().await?)
    }
}

fn parse(secret: &str) -> Result<Credentials, CredentialsError> {
    let secret = secret.trim();
    if secret.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Mtls {
            tls_cert: String,
            tls_key: String,
        }
        let Mtls { tls_cert, tls_key } =
            serde_json::from_str(secret).map_err(|_| CredentialsError::Malformed)?;
        if tls_cert.trim().is_empty() || tls_key.trim().is_empty() {
            return Err(CredentialsError::Malformed);
        }
        return Ok(Credentials::Mtls {
            cert: tls_cert.into_bytes(),
            key: tls_key.into_bytes(),
        });
    }
    if secret.is_empty() || secret.chars().any(char::is_whitespace) {
        return Err(CredentialsError::Malformed);
    }
    Ok(Credentials::ApiKey(secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_client::TlsOptions;

    fn connection(tls: bool) -> ConnectionOptions {
        let target: temporalio_client::Url = "http://127.0.0.1:7233".parse().expect("a URL");
        let connection = ConnectionOptions::new(target);
        if tls {
            connection.tls_options(TlsOptions::default()).build()
        } else {
            connection.build()
        }
    }

    async fn applied(secret: &str, tls: bool) -> Result<ConnectionOptions, CredentialsError> {
        let credentials = TemporalCredentials {
            secret: Secret::value("TEMPORAL_SECRET", secret),
        };
        let mut connection = connection(tls);
        credentials.apply(&mut connection).await?;
        Ok(connection)
    }

    #[tokio::test]
    async fn an_api_key_is_sent_as_the_connection_api_key() {
        let connection = applied(" key-123 \n", true).await.expect("applied");
        assert_eq!(connection.api_key.as_deref(), Some("key-123"));
        assert!(connection.tls_options.is_some(), "TLS stays as configured");
    }

    #[tokio::test]
    async fn a_certificate_and_key_become_the_clients_mtls_identity() {
        let secret = r#"{"tls_cert": "CERT PEM", "tls_key": "KEY PEM"}"#;
        let connection = applied(secret, true).await.expect("applied");
        let client = connection
            .tls_options
            .and_then(|tls| tls.client_tls_options)
            .expect("mTLS");
        assert_eq!(client.client_cert, b"CERT PEM");
        assert_eq!(client.client_private_key, b"KEY PEM");
        assert!(connection.api_key.is_none());
        assert!(matches!(
            applied(secret, false).await,
            Err(CredentialsError::MtlsWithoutTls)
        ));
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        for secret in [
            "",
            "two words",
            r#"{"tls_cert": "CERT PEM"}"#,
            r#"{"tls_cert": "", "tls_key": "KEY"}"#,
            "{not json",
        ] {
            assert!(
                matches!(
                    applied(secret, true).await,
                    Err(CredentialsError::Malformed)
                ),
                "{secret:?}"
            );
        }
    }
}
