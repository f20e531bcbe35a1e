//! Failure injection: an admin-settable mode that makes a service down, slow or flaky
//! (and, for payment, declining), so the demo UI and the tests can drive every saga path.
//!
//! The mode lives in the service's own table, so every instance of the function sees it;
//! each instance caches it briefly to keep it off the hot path. The admin and health
//! routes are never affected, so a service that is "down" can always be brought back.
//!
//! It exists only where `FAILURE_INJECTION=enabled` (local runs, compose, and an AWS
//! deployment that asks for it): elsewhere the admin routes answer 404 and no stored
//! mode is applied.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::config::ServiceConfig;
use crate::dynamo::{self, StoreError};
use crate::extract::Json;
use crate::problem::Problem;

/// Upper bound for `slow`: beyond this a caller's timeout would fire anyway.
pub const MAX_DELAY_MS: u64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum FailureMode {
    /// Normal operation.
    #[default]
    Off,
    /// Every call answers 503.
    Down,
    /// Every call is delayed by `delay_ms`.
    Slow { delay_ms: u64 },
    /// A share `failure_rate` (0 < r <= 1) of calls answers 500.
    Flaky { failure_rate: f64 },
    /// Payment only: every charge is declined.
    Decline,
}

/// The body of `PUT /admin/failure-mode`, e.g. `{"mode": "slow", "delay_ms": 2000}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureModeRequest {
    pub mode: ModeName,
    pub delay_ms: Option<u64>,
    pub failure_rate: Option<f64>,
}

/// The name of a failure mode, as `mode` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ModeName {
    Off,
    Down,
    Slow,
    Flaky,
    Decline,
}

impl FailureModeRequest {
    /// Checks that the mode has exactly its parameters, within bounds, and that this
    /// service supports it.
    pub fn parse(self, supports_decline: bool) -> Result<FailureMode, Problem> {
        let mode = match (self.mode, self.delay_ms, self.failure_rate) {
            (ModeName::Off, None, None) => FailureMode::Off,
            (ModeName::Down, None, None) => FailureMode::Down,
            (ModeName::Decline, None, None) => FailureMode::Decline,
            (ModeName::Slow, Some(delay_ms), None) => FailureMode::Slow { delay_ms },
            (ModeName::Flaky, None, Some(failure_rate)) => FailureMode::Flaky { failure_rate },
            (ModeName::Slow, ..) => {
                return Err(Problem::invalid(
                    "`slow` takes `delay_ms` and nothing else.",
                ));
            }
            (ModeName::Flaky, ..) => {
                return Err(Problem::invalid(
                    "`flaky` takes `failure_rate` and nothing else.",
                ));
            }
            _ => {
                return Err(Problem::invalid(
                    "Only `slow` takes `delay_ms` and only `flaky` takes `failure_rate`.",
                ));
            }
        };
        mode.validate(supports_decline)
    }
}

impl FailureMode {
    fn validate(self, supports_decline: bool) -> Result<Self, Problem> {
        match self {
            Self::Slow { delay_ms } if delay_ms == 0 || delay_ms > MAX_DELAY_MS => Err(
                Problem::invalid(format!("`delay_ms` must be between 1 and {MAX_DELAY_MS}.")),
            ),
            Self::Flaky { failure_rate } if !(failure_rate > 0.0 && failure_rate <= 1.0) => Err(
                Problem::invalid("`failure_rate` must be greater than 0 and at most 1."),
            ),
            Self::Decline if !supports_decline => Err(Problem::invalid(
                "Only the payment service supports the `decline` mode.",
            )),
            mode => Ok(mode),
        }
    }
}

const CONFIG_PK: &str = "CONFIG";
const FAILURE_MODE_SK: &str = "FAILURE_MODE";

#[derive(Serialize, Deserialize)]
struct StoredMode {
    failure_mode: FailureMode,
    updated_at: String,
}

/// The failure mode of one service, shared by all its instances through its table.
pub struct FailureSwitch {
    client: Client,
    table: String,
    enabled: bool,
    service: &'static str,
    supports_decline: bool,
    cache_for: Duration,
    cached: Mutex<Option<(Instant, FailureMode)>>,
}

impl FailureSwitch {
    pub fn new(client: Client, config: &ServiceConfig, service: &'static str) -> Self {
        Self {
            client,
            table: config.table_name.clone(),
            enabled: config.failure_injection,
            service,
            supports_decline: false,
            cache_for: config.failure_mode_cache,
            cached: Mutex::new(None),
        }
    }

    /// Allows the `decline` mode (the payment service).
    pub fn with_decline(mut self) -> Self {
        self.supports_decline = true;
        self
    }

    /// The mode in force. If the table cannot be read the service is about to fail
    /// anyway; the last known mode (or `Off`) is used rather than failing here too.
    pub async fn current(&self) -> FailureMode {
        let cached = *self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((read_at, mode)) = cached
            && read_at.elapsed() < self.cache_for
        {
            return mode;
        }
        match self.read().await {
            Ok(mode) => {
                self.remember(mode);
                mode
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read failure mode; using the last known one");
                cached.map(|(_, mode)| mode).unwrap_or_default()
            }
        }
    }

    async fn read(&self) -> Result<FailureMode, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(CONFIG_PK, FAILURE_MODE_SK)))
            .consistent_read(true)
            .send()
            .await?;
        match output.item {
            Some(item) => Ok(dynamo::from_item::<StoredMode>(item)?.failure_mode),
            None => Ok(FailureMode::Off),
        }
    }

    /// Stores `mode` for every instance. Setting the same mode twice is harmless.
    pub async fn set(&self, request: FailureModeRequest) -> Result<FailureMode, Problem> {
        let mode = request.parse(self.supports_decline)?;
        let record = StoredMode {
            failure_mode: mode,
            updated_at: crate::clock::now(),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&record, CONFIG_PK, FAILURE_MODE_SK)?))
            .send()
            .await
            .map_err(StoreError::from)?;
        self.remember(mode);
        tracing::info!(service = self.service, ?mode, "failure mode set");
        Ok(mode)
    }

    fn remember(&self, mode: FailureMode) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), mode));
    }
}

/// Assembles a service: `domain` routes behind the failure switch, plus the admin
/// routes that set it (`GET`/`PUT /admin/failure-mode`) and `GET /health`, which are
/// never affected by it.
pub fn guarded(domain: Router, switch: Arc<FailureSwitch>) -> Router {
    let domain = if switch.enabled {
        let admin = Router::new()
            .route("/admin/failure-mode", get(get_mode).put(put_mode))
            .with_state(switch.clone());
        domain
            .layer(middleware::from_fn_with_state(switch, inject))
            .merge(admin)
    } else {
        domain.route("/admin/failure-mode", get(disabled).put(disabled))
    };
    domain.route(
        "/health",
        get(|| async { Json(serde_json::json!({"status": "ok"})) }),
    )
}

async fn inject(
    State(switch): State<Arc<FailureSwitch>>,
    mut request: Request,
    next: Next,
) -> Response {
    let mode = switch.current().await;
    match mode {
        FailureMode::Down => {
            return Problem::unavailable(format!(
                "The {} service is down (failure injection).",
                switch.service
            ))
            .into_response();
        }
        FailureMode::Slow { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        FailureMode::Flaky { failure_rate } if fastrand::f64() < failure_rate => {
            return Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected-fault",
                "Injected fault",
            )
            .with_detail(format!(
                "The {} service is flaky (failure injection).",
                switch.service
            ))
            .into_response();
        }
        _ => {}
    }
    // Handlers that act on a mode themselves (payment's `decline`) read it from here.
    request.extensions_mut().insert(mode);
    next.run(request).await
}

async fn disabled() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "failure-injection-disabled",
        "Failure injection is off",
    )
    .with_detail("Failure injection is off in this deployment (FAILURE_INJECTION=enabled).")
}

async fn get_mode(State(switch): State<Arc<FailureSwitch>>) -> Result<Json<FailureMode>, Problem> {
    Ok(Json(switch.read().await?))
}

async fn put_mode(
    State(switch): State<Arc<FailureSwitch>>,
    Json(request): Json<FailureModeRequest>,
) -> Result<Json<FailureMode>, Problem> {
    Ok(Json(switch.set(request).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str, supports_decline: bool) -> Result<FailureMode, String> {
        let request: FailureModeRequest =
            serde_json::from_str(json).map_err(|e| format!("json: {e}"))?;
        request.parse(supports_decline).map_err(|p| format!("{p}"))
    }

    #[test]
    fn modes_parse_from_their_wire_form() {
        assert_eq!(
            parse(r#"{"mode":"slow","delay_ms":250}"#, false),
            Ok(FailureMode::Slow { delay_ms: 250 })
        );
        assert_eq!(parse(r#"{"mode":"off"}"#, false), Ok(FailureMode::Off));
        assert_eq!(
            parse(r#"{"mode":"flaky","failure_rate":0.5}"#, false),
            Ok(FailureMode::Flaky { failure_rate: 0.5 })
        );
    }

    #[test]
    fn stored_form_round_trips() {
        let mode = FailureMode::Flaky { failure_rate: 0.25 };
        let json = serde_json::to_string(&mode).expect("serialises");
        assert_eq!(json, r#"{"mode":"flaky","failure_rate":0.25}"#);
        assert_eq!(serde_json::from_str::<FailureMode>(&json).ok(), Some(mode));
    }

    #[test]
    fn unknown_modes_fields_and_misplaced_parameters_are_rejected() {
        assert!(parse(r#"{"mode":"melt"}"#, false).is_err());
        assert!(parse(r#"{"mode":"down","x":1}"#, false).is_err());
        assert!(parse(r#"{"mode":"down","delay_ms":5}"#, false).is_err());
        assert!(parse(r#"{"mode":"slow"}"#, false).is_err());
        assert!(parse(r#"{"mode":"flaky","delay_ms":5}"#, false).is_err());
    }

    #[test]
    fn parameters_are_bounded() {
        assert!(parse(r#"{"mode":"slow","delay_ms":0}"#, false).is_err());
        assert!(parse(r#"{"mode":"slow","delay_ms":30001}"#, false).is_err());
        assert!(parse(r#"{"mode":"flaky","failure_rate":0}"#, false).is_err());
        assert!(parse(r#"{"mode":"flaky","failure_rate":1.5}"#, false).is_err());
        assert!(parse(r#"{"mode":"flaky","failure_rate":1}"#, false).is_ok());
    }

    #[test]
    fn only_payment_declines() {
        assert!(parse(r#"{"mode":"decline"}"#, false).is_err());
        assert_eq!(
            parse(r#"{"mode":"decline"}"#, true),
            Ok(FailureMode::Decline)
        );
    }
}
