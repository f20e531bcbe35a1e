//! The gateway's configuration, from the environment.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use saga_contract::ApprovalPolicy;
use service_kit::config::{ConfigError, optional, table_name};
use service_kit::services::{self, ServiceUrls};

pub use crate::client_ip::TrustedProxies;

/// The public development secret: used only with `ALLOW_DEV_JWT_SECRET=true`, which
/// the local scripts and compose set, and never on Lambda.
pub const DEV_JWT_SECRET: &str = "local-development-secret-change-me-0123456789";

/// The shortest HS256 secret accepted: 256 bits, the size RFC 7518 asks of HMAC keys.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `CUSTOMER_URL`...: the base URL of each service `infra/services.json` declares
    /// as called by the gateway.
    pub services: ServiceUrls,
    /// `TABLE_NAME`: refresh-token families and WebSocket connections.
    pub table: String,
    /// `RATE_LIMIT_TABLE`: the shared rate-limit state.
    pub rate_limit_table: String,
    /// `BREAKERS_TABLE`: the breaker board the saga workers report to.
    pub breakers_table: String,
    pub jwt: JwtConfig,
    pub rate_limit: RateLimitConfig,
    /// `ORDER_RATE_PER_MINUTE` (default 10) and `ORDER_RATE_BURST` (default 5): the
    /// orders one customer may place, each a saga that may hold stock for a review.
    pub order_rate: RateLimitConfig,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins allowed to call the API from a
    /// browser (default: the Vite dev server, `http://localhost:5173`).
    pub cors_origins: Vec<String>,
    /// `TRUSTED_PROXIES`: whose client-address headers to believe (default: nobody's);
    /// see [`TrustedProxies`].
    pub trusted_proxies: TrustedProxies,
    /// `TASK_QUEUE` of the saga worker (default `order-saga`).
    pub task_queue: String,
    /// `APPROVAL_THRESHOLD` (cents, default 50 000) and `APPROVAL_TIMEOUT_SECS`
    /// (default 900): large orders wait for a reviewer.
    pub approval: ApprovalPolicy,
    /// `DOWNSTREAM_TIMEOUT_MS` (default 5000): the longest a call to a service may take.
    pub downstream_timeout: Duration,
    /// `EVENT_POLL_MS` (default 250): how often a local WebSocket session looks for new
    /// events in the user's notification feed.
    pub event_poll_interval: Duration,
    /// `CHECKOUT_WAIT_MS` (default 3000): how long placing an order waits for the saga
    /// to hold the stock (201) or say why not (409) before answering 202.
    pub checkout_wait: Duration,
    /// `TEMPORAL_UI_URL`: where order details link to their workflow, if set; its origin
    /// is the only one allowed to call the codec endpoint from a browser.
    pub temporal_ui_url: Option<String>,
    /// `TEMPORAL_NAMESPACE` (default `default`), for those links.
    pub temporal_namespace: String,
    /// `TRACE_UI_URL`: where order details link to their trace, if set: a URL with
    /// `{trace_id}` in it, e.g. Jaeger's `http://localhost:16686/trace/{trace_id}`.
    pub trace_ui_url: Option<String>,
    /// `WEBSOCKET_ENDPOINT`: on AWS, the WebSocket API's management endpoint, to close a
    /// user's connections when they log out.
    pub websocket_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub keys: JwtKeys,
    /// `JWT_ISSUER` (default `order-saga-gateway`).
    pub issuer: String,
    /// `JWT_AUDIENCE` (default `order-saga-api`).
    pub audience: String,
    /// `ACCESS_TOKEN_TTL_SECS` (default 900, at most 900 under Lambda).
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECS` (default 30 days).
    pub refresh_ttl: Duration,
}

#[derive(Debug, Clone)]
pub enum JwtKeys {
    /// HS256 with a shared secret; the gateway issues the tokens.
    Secret(SecretSource),
    /// RS256/ES256 keys published at `JWT_JWKS_URL` (e.g. a Cognito user pool), with
    /// the algorithms of `JWT_ALGORITHMS` (default `RS256`); the identity provider
    /// issues the tokens.
    Jwks {
        url: String,
        algorithms: Vec<Algorithm>,
        /// `JWT_COGNITO_CLIENT_ID`: also accept the Cognito user pool's access tokens
        /// (`token_use: access`, `client_id` this app client, no `aud`) and ID tokens
        /// (`token_use: id`, `aud` this app client).
        cognito_client_id: Option<String>,
    },
}

/// Where the HS256 secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `JWT_SECRET`: the value, at least [`MIN_SECRET_BYTES`] long.
    Value(String),
    /// `JWT_SECRET_ARN`: a Secrets Manager secret, fetched at run time and cached.
    SecretsManager { arn: String },
    /// [`DEV_JWT_SECRET`], with `ALLOW_DEV_JWT_SECRET=true`, off Lambda only.
    Development,
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value(<redacted>)"),
            Self::SecretsManager { arn } => write!(f, "SecretsManager({arn})"),
            Self::Development => f.write_str("Development"),
        }
    }
}

impl SecretSource {
    /// From `JWT_SECRET`, `JWT_SECRET_ARN` and `ALLOW_DEV_JWT_SECRET`; `on_lambda` says
    /// whether this runs under a Lambda runtime, where the development secret never
    /// works, whatever the settings say.
    pub fn resolve(
        value: Option<String>,
        arn: Option<String>,
        allow_development: bool,
        on_lambda: bool,
    ) -> Result<Self, ConfigError> {
        let development_refused = || {
            ConfigError::new(
                "JWT_SECRET is the public development secret; it works only off Lambda, with ALLOW_DEV_JWT_SECRET=true",
            )
        };
        match (value, arn) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                "set JWT_SECRET or JWT_SECRET_ARN, not both",
            )),
            (Some(value), None) if value == DEV_JWT_SECRET => {
                if allow_development && !on_lambda {
                    Ok(Self::Development)
                } else {
                    Err(development_refused())
                }
            }
            (Some(value), None) if value.len() < MIN_SECRET_BYTES => Err(ConfigError::new(
                format!("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"),
            )),
            (Some(value), None) => Ok(Self::Value(value)),
            (None, Some(arn)) => Ok(Self::SecretsManager { arn }),
            (None, None) if allow_development && !on_lambda => Ok(Self::Development),
            (None, None) if allow_development => Err(development_refused()),
            (None, None) => Err(ConfigError::new(format!(
                "set JWT_SECRET (at least {MIN_SECRET_BYTES} random bytes) or JWT_SECRET_ARN (Secrets Manager); \
                 for local development only, ALLOW_DEV_JWT_SECRET=true signs with a public secret"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_PER_MINUTE` (default 600): the sustained rate per principal.
    pub per_minute: u32,
    /// `RATE_LIMIT_BURST` (default 60): how many requests may arrive at once.
    pub burst: u32,
    /// `RATE_LIMIT_LEASE` (default 5): permits an instance takes from the shared limit at
    /// once, to serve the next requests without a round trip.
    pub lease: u32,
}

/// The longest life of an access token under Lambda: a token cannot be revoked, and a
/// deployment must not be configured into hours-long ones (local runs may, for tools
/// such as the chaos check).
pub const MAX_LAMBDA_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// `TRACE_UI_URL`: empty for none, else a URL with `{trace_id}` where the id goes (a
/// link to the viewer's front page would look like a link to the trace).
fn trace_ui_url(url: String) -> Result<Option<String>, ConfigError> {
    match non_empty(url) {
        Some(url) if !url.contains("{trace_id}") => Err(ConfigError::new(format!(
            "TRACE_UI_URL={url}: put `{{trace_id}}` where the trace's id goes"
        ))),
        url => Ok(url),
    }
}

/// `ACCESS_TOKEN_TTL_SECS`: at least a second, and at most [`MAX_LAMBDA_ACCESS_TTL`]
/// under Lambda.
fn access_ttl(seconds: u64, on_lambda: bool) -> Result<Duration, ConfigError> {
    let ttl = Duration::from_secs(seconds);
    if ttl.is_zero() || (on_lambda && ttl > MAX_LAMBDA_ACCESS_TTL) {
        return Err(ConfigError::new(format!(
            "ACCESS_TOKEN_TTL_SECS={seconds}: between 1 and {} under Lambda",
            MAX_LAMBDA_ACCESS_TTL.as_secs()
        )));
    }
    Ok(ttl)
}

impl GatewayConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let keys = match std::env::var("JWT_JWKS_URL") {
            Ok(url) if !url.trim().is_empty() => JwtKeys::Jwks {
                url,
                algorithms: parse_algorithms(&optional("JWT_ALGORITHMS", "RS256".to_owned())?)?,
                cognito_client_id: set("JWT_COGNITO_CLIENT_ID"),
            },
            _ => JwtKeys::Secret(SecretSource::resolve(
                set("JWT_SECRET"),
                set("JWT_SECRET_ARN"),
                optional("ALLOW_DEV_JWT_SECRET", false)?,
                service_kit::serve::running_in_lambda(),
            )?),
        };
        let origins: String = optional("CORS_ALLOWED_ORIGINS", "http://localhost:5173".to_owned())?;
        let temporal_ui_url: String = optional("TEMPORAL_UI_URL", String::new())?;
        let trace_ui_url = trace_ui_url(optional("TRACE_UI_URL", String::new())?)?;
        Ok(Self {
            services: services::urls_from_env("gateway")?,
            table: table_name("TABLE_NAME", "gateway")?,
            rate_limit_table: table_name("RATE_LIMIT_TABLE", "ratelimits")?,
            breakers_table: table_name("BREAKERS_TABLE", "breakers")?,
            jwt: JwtConfig {
                keys,
                issuer: optional("JWT_ISSUER", "order-saga-gateway".to_owned())?,
                audience: optional("JWT_AUDIENCE", "order-saga-api".to_owned())?,
                access_ttl: access_ttl(
                    optional("ACCESS_TOKEN_TTL_SECS", MAX_LAMBDA_ACCESS_TTL.as_secs())?,
                    service_kit::serve::running_in_lambda(),
                )?,
                refresh_ttl: Duration::from_secs(optional(
                    "REFRESH_TOKEN_TTL_SECS",
                    30 * 24 * 3600,
                )?),
            },
            rate_limit: RateLimitConfig {
                per_minute: optional("RATE_LIMIT_PER_MINUTE", 600)?,
                burst: optional("RATE_LIMIT_BURST", 60)?,
                lease: optional("RATE_LIMIT_LEASE", 5)?,
            },
            order_rate: RateLimitConfig {
                per_minute: optional("ORDER_RATE_PER_MINUTE", 10)?,
                burst: optional("ORDER_RATE_BURST", 5)?,
                // No lease: each order is counted against the shared limit at once.
                lease: 1,
            },
            cors_origins: parse_origins(&origins)?,
            trusted_proxies: TrustedProxies::parse(&optional("TRUSTED_PROXIES", String::new())?)?,
            task_queue: optional("TASK_QUEUE", saga_contract::DEFAULT_TASK_QUEUE.to_owned())?,
            approval: ApprovalPolicy {
                threshold: optional("APPROVAL_THRESHOLD", ApprovalPolicy::default().threshold)?,
                timeout_secs: optional(
                    "APPROVAL_TIMEOUT_SECS",
                    ApprovalPolicy::default().timeout_secs,
                )?,
            },
            downstream_timeout: Duration::from_millis(optional("DOWNSTREAM_TIMEOUT_MS", 5000)?),
            event_poll_interval: Duration::from_millis(optional("EVENT_POLL_MS", 250)?),
            checkout_wait: Duration::from_millis(optional("CHECKOUT_WAIT_MS", 3000)?),
            temporal_ui_url: non_empty(temporal_ui_url),
            temporal_namespace: optional("TEMPORAL_NAMESPACE", "default".to_owned())?,
            trace_ui_url,
            websocket_endpoint: set("WEBSOCKET_ENDPOINT"),
        })
    }
}

impl GatewayConfig {
    /// The origin (`scheme://host[:port]`) of `TEMPORAL_UI_URL`: the only origin from
    /// which a browser may call the codec endpoint.
    pub fn temporal_ui_origin(&self) -> Option<String> {
        let url = self.temporal_ui_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
    }
}

/// `CORS_ALLOWED_ORIGINS`: exact origins. A wildcard is refused: the API takes
/// credentials, and `*` would hand them to any site.
fn parse_origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    for origin in &origins {
        let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.contains('*')
            && !origin.ends_with('/')
            && axum::http::HeaderValue::from_str(origin).is_ok();
        if !valid {
            return Err(ConfigError::new(format!(
                "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin such as https://shop.example.com (no wildcards, no path)"
            )));
        }
    }
    Ok(origins)
}

/// A variable's value, when set and not blank.
fn set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn non_empty(value: String) -> Option<String> {
    let value = value.trim().trim_end_matches('/').to_owned();
    (!value.is_empty()).then_some(value)
}

fn parse_algorithms(raw: &str) -> Result<Vec<Algorithm>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .map(|name| match name {
            "RS256" => Ok(Algorithm::RS256),
            "ES256" => Ok(Algorithm::ES256),
            other => Err(ConfigError::new(format!(
                "JWT_ALGORITHMS: {other:?} is not supported (RS256, ES256)"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef0123456789abcdef";

    fn resolve(
        value: Option<&str>,
        arn: Option<&str>,
        allow_development: bool,
        on_lambda: bool,
    ) -> Result<SecretSource, ConfigError> {
        SecretSource::resolve(
            value.map(str::to_owned),
            arn.map(str::to_owned),
            allow_development,
            on_lambda,
        )
    }

    #[test]
    fn a_secret_of_32_bytes_or_an_arn_is_accepted() {
        assert_eq!(
            resolve(Some(GOOD), None, false, true).expect("valid"),
            SecretSource::Value(GOOD.into())
        );
        assert_eq!(
            resolve(None, Some("arn:aws:secretsmanager:x"), false, true).expect("valid"),
            SecretSource::SecretsManager {
                arn: "arn:aws:secretsmanager:x".into()
            }
        );
    }

    #[test]
    fn no_secret_a_short_one_or_both_kinds_refuse_to_start() {
        assert!(resolve(None, None, false, false).is_err());
        assert!(resolve(Some(&GOOD[..31]), None, false, false).is_err());
        assert!(resolve(Some(GOOD), Some("arn"), false, false).is_err());
    }

    #[test]
    fn the_development_secret_needs_the_flag_and_never_works_on_lambda() {
        assert_eq!(
            resolve(None, None, true, false).expect("allowed off Lambda"),
            SecretSource::Development
        );
        assert!(resolve(None, None, true, true).is_err());
        assert!(resolve(Some(DEV_JWT_SECRET), None, false, false).is_err());
        assert!(resolve(Some(DEV_JWT_SECRET), None, true, true).is_err());
    }

    #[test]
    fn a_trace_link_names_where_the_trace_id_goes() {
        assert_eq!(trace_ui_url(String::new()).expect("none"), None);
        let jaeger = "http://localhost:16686/trace/{trace_id}";
        assert_eq!(
            trace_ui_url(jaeger.into())
                .expect("a trace link")
                .as_deref(),
            Some(jaeger)
        );
        assert!(trace_ui_url("http://localhost:16686/".into()).is_err());
    }

    #[test]
    fn origins_are_exact_and_never_a_wildcard() {
        assert_eq!(
            parse_origins("http://localhost:5173, https://shop.example.com").expect("valid"),
            ["http://localhost:5173", "https://shop.example.com"]
        );
        for bad in [
            "*",
            "https://*.example.com",
            "shop.example.com",
            "https://a.com/",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let shown = format!("{:?}", SecretSource::Value(GOOD.into()));
        assert!(!shown.contains(GOOD), "{shown}");
    }

    #[test]
    fn access_tokens_live_at_most_15_minutes_under_lambda() {
        assert_eq!(
            access_ttl(900, true).expect("the cap"),
            MAX_LAMBDA_ACCESS_TTL
        );
        assert!(access_ttl(901, true).is_err());
        assert!(access_ttl(0, false).is_err());
        assert_eq!(
            access_ttl(7200, false).expect("local tools"),
            Duration::from_secs(7200)
        );
    }
}
