//! Configuration from environment variables: the one mechanism that works the same
//! under Lambda, in a container, under `cargo lambda watch` and in a shell.

use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A variable that must be set and non-empty.
pub fn required(name: &str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError(format!("{name} must be set"))),
    }
}

/// A variable parsed as `T`, or `default` when unset or empty.
pub fn optional<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|error| ConfigError(format!("{name}={value:?} is invalid: {error}"))),
        _ => Ok(default),
    }
}

/// What every domain service needs to know about its environment.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The service's own DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// How long an instance may act on a failure mode it read before reading it again
    /// (`FAILURE_MODE_CACHE_MS`, default 1000). Zero reads it on every request.
    pub failure_mode_cache: Duration,
}

impl ServiceConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            failure_mode_cache: Duration::from_millis(optional("FAILURE_MODE_CACHE_MS", 1000)?),
        })
    }

    pub fn for_table(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            failure_mode_cache: Duration::ZERO,
        }
    }
}
