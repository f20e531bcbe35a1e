//! Secrets the configuration names: a value in `<NAME>` (local runs and tests), or the
//! ARN of an AWS Secrets Manager secret in `<NAME>_ARN` (AWS). A secret in Secrets
//! Manager is fetched at run time, never resolved into a plaintext environment
//! variable, and cached for [`CACHE_TTL`], so a rotated secret is picked up within that
//! time without a fetch per request.
//!
//! When a refresh fails, the cached value keeps serving (and the failure is logged):
//! the secret did not become invalid because Secrets Manager was briefly unreachable.
//! Without any value yet, the error reaches the caller, which must refuse to work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::config::ConfigError;

/// How long a value fetched from Secrets Manager is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
#[error("secret {name} unavailable: {reason}")]
pub struct SecretError {
    name: String,
    reason: String,
}

pub struct Secret {
    name: String,
    source: Source,
    ttl: Duration,
}

enum Source {
    Value(Arc<str>),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        arn: String,
        cached: Mutex<Option<(Instant, Arc<str>)>>,
    },
}

impl Secret {
    /// A secret whose value is known (tests, local runs).
    pub fn value(name: impl Into<String>, value: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            source: Source::Value(value.into()),
            ttl: CACHE_TTL,
        }
    }

    /// A secret kept in Secrets Manager, on the client of the standard AWS environment
    /// (`AWS_ENDPOINT_URL_SECRETS_MANAGER` points it elsewhere, e.g. an emulator).
    pub async fn secrets_manager(name: impl Into<String>, arn: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            source: Source::SecretsManager {
                client: aws_sdk_secretsmanager::Client::new(&crate::aws::config().await),
                arn: arn.into(),
                cached: Mutex::new(None),
            },
            ttl: CACHE_TTL,
        }
    }

    /// Uses a fetched value for `ttl` instead of [`CACHE_TTL`].
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The secret `name` as the environment gives it: `<name>`, else `<name>_ARN`;
    /// `None` when neither is set. Setting both is a configuration error.
    pub async fn from_env(name: &str) -> Result<Option<Self>, ConfigError> {
        let set = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        let arn_var = format!("{name}_ARN");
        match (set(name), set(&arn_var)) {
            (Some(_), Some(_)) => Err(ConfigError::new(format!(
                "set {name} or {arn_var}, not both"
            ))),
            (Some(value), None) => Ok(Some(Self::value(name, value))),
            (None, Some(arn)) => Ok(Some(Self::secrets_manager(name, arn.trim()).await)),
            (None, None) => Ok(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current value.
    pub async fn get(&self) -> Result<Arc<str>, SecretError> {
        let (client, arn, cached) = match &self.source {
            Source::Value(value) => return Ok(value.clone()),
            Source::SecretsManager {
                client,
                arn,
                cached,
            } => (client, arn, cached),
        };
        // One fetch at a time: the others wait for it and take its value.
        let mut cached = cached.lock().await;
        if let Some((fetched, value)) = cached.as_ref()
            && fetched.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        match fetch(client, arn).await {
            Ok(value) => {
                *cached = Some((Instant::now(), value.clone()));
                Ok(value)
            }
            Err(reason) => match cached.as_ref() {
                Some((_, value)) => {
                    tracing::error!(secret = %self.name, %reason, "cannot refresh a secret; using the cached value");
                    Ok(value.clone())
                }
                None => Err(SecretError {
                    name: self.name.clone(),
                    reason,
                }),
            },
        }
    }
}

async fn fetch(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<Arc<str>, String> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|error| aws_sdk_secretsmanager::error::DisplayErrorContext(error).to_string())?;
    output
        .secret_string()
        .map(Arc::from)
        .ok_or_else(|| "the secret has no string value".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_known_value_is_served_as_is() {
        let secret = Secret::value("JWT_SECRET", "s3cret");
        assert_eq!(&*secret.get().await.expect("a value"), "s3cret");
        assert_eq!(secret.name(), "JWT_SECRET");
    }
}
