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

/// A base URL that must be set, without its trailing slash, so that `{base}{path}`
/// works for both `http://host:3001` and a Lambda function URL (`https://id.lambda-url.<region>.on.aws/`).
pub fn base_url(name: &str) -> Result<String, ConfigError> {
    Ok(required(name)?.trim().trim_end_matches('/').to_owned())
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

/// A table's name: the variable `var` when set, else `TABLE_PREFIX` followed by the
/// table's name in `infra/tables.json` (`owner`). The prefix lets functions that share
/// one environment (`cargo lambda watch`) each find their own table.
pub fn table_name(var: &str, owner: &str) -> Result<String, ConfigError> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    resolve_table_name(set(var), set("TABLE_PREFIX"), var, owner)
}

fn resolve_table_name(
    explicit: Option<String>,
    prefix: Option<String>,
    var: &str,
    owner: &str,
) -> Result<String, ConfigError> {
    match (explicit, prefix) {
        (Some(name), _) => Ok(name.trim().to_owned()),
        (None, Some(prefix)) => Ok(format!("{}{owner}", prefix.trim())),
        (None, None) => Err(ConfigError(format!(
            "{var} must be set (or TABLE_PREFIX, to use TABLE_PREFIX{owner})"
        ))),
    }
}

/// What every domain service needs to know about its environment.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The service's own DynamoDB table (`TABLE_NAME`, see [`table_name`]).
    pub table_name: String,
    /// How long an instance may act on a failure mode it read before reading it again
    /// (`FAILURE_MODE_CACHE_MS`, default 1000). Zero reads it on every request.
    pub failure_mode_cache: Duration,
    /// `FAILURE_INJECTION=enabled` turns the failure switchboard on (the local scripts
    /// and compose do); otherwise it does not exist, and a mode stored in the table is
    /// ignored: a deployment cannot be taken down through it.
    pub failure_injection: bool,
}

impl ServiceConfig {
    /// `owner` names the service's table in `infra/tables.json`.
    pub fn from_env(owner: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: table_name("TABLE_NAME", owner)?,
            failure_mode_cache: Duration::from_millis(optional("FAILURE_MODE_CACHE_MS", 1000)?),
            failure_injection: match optional("FAILURE_INJECTION", "disabled".to_owned())?.as_str()
            {
                "enabled" => true,
                "disabled" => false,
                other => {
                    return Err(ConfigError::new(format!(
                        "FAILURE_INJECTION={other:?} is invalid: use enabled or disabled"
                    )));
                }
            },
        })
    }

    /// A service on `table_name` with failure injection on (tests drive it).
    pub fn for_table(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            failure_mode_cache: Duration::ZERO,
            failure_injection: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    #[test]
    fn an_explicit_table_name_wins_over_the_prefix() {
        let name = resolve_table_name(some("orders-prod"), some("local-"), "TABLE_NAME", "orders");
        assert_eq!(name.ok().as_deref(), Some("orders-prod"));
    }

    #[test]
    fn a_prefix_names_the_table_after_its_owner() {
        let name = resolve_table_name(None, some("watch-"), "RATE_LIMIT_TABLE", "ratelimits");
        assert_eq!(name.ok().as_deref(), Some("watch-ratelimits"));
    }

    #[test]
    fn neither_is_a_configuration_error_naming_both() {
        let error = resolve_table_name(None, None, "TABLE_NAME", "orders").err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("TABLE_NAME") && message.contains("TABLE_PREFIX"),
            "{message}"
        );
    }
}
