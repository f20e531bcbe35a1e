//! Access tokens: issuing (HS256, when the gateway is the identity provider) and
//! verifying (HS256, or RS256/ES256 keys from a JWKS URL such as a Cognito user pool).
//!
//! Verification pins the algorithms, requires `exp`, `iss`, `aud` and `sub`, checks
//! `nbf`, and takes the key from configuration, never from the token: a token whose
//! header asks for another algorithm (`none`, or HS256 signed with a public key) is
//! refused before any signature is checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_kit::Problem;
use service_kit::secrets::Secret;
use tokio::sync::RwLock;

use crate::config::{DEV_JWT_SECRET, JwtConfig, JwtKeys, MIN_SECRET_BYTES, SecretSource};

/// Clock skew tolerated on `exp` and `nbf`.
mod jwks;

use jwks::JwksCache;

const LEEWAY_SECS: u64 = 5;
/// How long fetched JWKS keys are trusted before they are fetched again.
const JWKS_TTL: Duration = Duration::from_secs(600);
/// An unknown `kid` triggers a refetch at most this often (key rotation), so forged
/// kids cannot make the gateway hammer the identity provider.
const JWKS_REFETCH_MIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Admin,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: String,
    pub role: Role,
    /// When the access token expires (seconds since the epoch).
    pub expires_at: u64,
    /// The user's token version the token was issued at (`ver`; 0 when absent): see
    /// `token_versions`.
    pub token_version: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct IssuedClaims<'a> {
    sub: &'a str,
    role: Role,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    ver: u64,
}

/// An access token as handed to a client.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid(reason) => {
                tracing::info!(%reason, "token refused");
                unauthorized("The access token is missing, invalid or expired.")
            }
            AuthError::KeysUnavailable(cause) => {
                tracing::error!(%cause, "the token keys are unavailable");
                Problem::unavailable("Tokens cannot be verified right now. Retry shortly.")
            }
        }
    }
}

pub fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized").with_detail(detail)
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

pub struct Tokens {
    config: JwtConfig,
    keys: KeySource,
}

enum KeySource {
    /// HS256: the secret, fetched (and cached) by [`Secret`].
    Secret(Secret),
    Jwks(JwksCache),
}

impl Tokens {
    pub async fn new(config: JwtConfig, http: reqwest::Client) -> Self {
        let keys = match &config.keys {
            JwtKeys::Secret(SecretSource::Value(value)) => {
                KeySource::Secret(Secret::value("JWT_SECRET", value.as_str()))
            }
            JwtKeys::Secret(SecretSource::Development) => {
                KeySource::Secret(Secret::value("JWT_SECRET", DEV_JWT_SECRET))
            }
            JwtKeys::Secret(SecretSource::SecretsManager { arn }) => {
                KeySource::Secret(Secret::secrets_manager("JWT_SECRET", arn).await)
            }
            JwtKeys::Jwks {
                url,
                algorithms,
                cognito_client_id,
            } => KeySource::Jwks(JwksCache {
                url: url.clone(),
                algorithms: algorithms.clone(),
                cognito_client_id: cognito_client_id.clone(),
                http,
                keys: RwLock::new(None),
            }),
        };
        Self { config, keys }
    }

    /// Whether this gateway issues tokens (HS256) or an identity provider does (JWKS).
    pub fn issues_tokens(&self) -> bool {
        matches!(self.keys, KeySource::Secret(_))
    }

    /// Checks, before the gateway serves anything, that the signing secret can be had
    /// and is long enough: a gateway that cannot sign safely does not start.
    pub async fn ready(&self) -> Result<(), AuthError> {
        if let KeySource::Secret(secret) = &self.keys {
            hs256_secret(secret).await?;
        }
        Ok(())
    }

    /// An access token for `user_id` at its token `version`.
    pub async fn issue(
        &self,
        user_id: &str,
        role: Role,
        version: u64,
    ) -> Result<AccessToken, Problem> {
        let KeySource::Secret(secret) = &self.keys else {
            return Err(
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                    .with_detail("Tokens are issued by the identity provider."),
            );
        };
        let encoding = EncodingKey::from_secret(hs256_secret(secret).await?.as_bytes());
        let now = now_secs();
        let ttl = self.config.access_ttl.as_secs();
        let claims = IssuedClaims {
            sub: user_id,
            role,
            iss: &self.config.issuer,
            aud: &self.config.audience,
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: uuid::Uuid::new_v4().to_string(),
            ver: version,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &encoding)
            .map_err(|error| {
                tracing::error!(%error, "cannot sign a token");
                Problem::internal()
            })?;
        Ok(AccessToken {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: ttl,
        })
    }

    #[tracing::instrument(name = "verify token", skip_all)]
    pub async fn verify(&self, token: &str) -> Result<AuthUser, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let (key, algorithms) = match &self.keys {
            KeySource::Secret(secret) => (
                DecodingKey::from_secret(hs256_secret(secret).await?.as_bytes()),
                vec![Algorithm::HS256],
            ),
            KeySource::Jwks(cache) => {
                if !cache.algorithms.contains(&header.alg) {
                    return Err(AuthError::Invalid(format!(
                        "algorithm {:?} not allowed",
                        header.alg
                    )));
                }
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| AuthError::Invalid("no kid".into()))?;
                (cache.key(kid).await?, cache.algorithms.clone())
            }
        };
        let cognito_client = match &self.keys {
            KeySource::Jwks(cache) => cache.cognito_client_id.as_deref(),
            KeySource::Secret(_) => None,
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        if cognito_client.is_some() {
            // Cognito's access tokens have no `aud`: checked below, with `client_id`.
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        } else {
            validation.set_audience(&[&self.config.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        }
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if let Some(client_id) = cognito_client {
            check_cognito_client(&claims, client_id)?;
        }
        // The user id becomes part of keys and paths: it must be an id like any other.
        let id = claims
            .get("sub")
            .and_then(Value::as_str)
            .and_then(|sub| service_kit::validate::parse_id(sub, "sub").ok())
            .ok_or_else(|| AuthError::Invalid("sub is not an id".into()))?;
        Ok(AuthUser {
            id,
            role: role_of(&claims),
            expires_at: claims
                .get("exp")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
            token_version: claims
                .get("ver")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
        })
    }
}

/// A Cognito token of `client_id`: an access token names it in `client_id`, an ID
/// token in `aud`; any other token is refused.
fn check_cognito_client(claims: &HashMap<String, Value>, client_id: &str) -> Result<(), AuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let ours = match text("token_use") {
        Some("access") => text("client_id") == Some(client_id),
        Some("id") => text("aud") == Some(client_id),
        _ => false,
    };
    if ours {
        Ok(())
    } else {
        Err(AuthError::Invalid(
            "not an access or ID token of this app client".into(),
        ))
    }
}

/// The HS256 secret, refused when shorter than [`MIN_SECRET_BYTES`] (a rotated secret
/// in Secrets Manager is checked as well as the first).
async fn hs256_secret(secret: &Secret) -> Result<Arc<str>, AuthError> {
    let value = secret
        .get()
        .await
        .map_err(|error| AuthError::KeysUnavailable(error.to_string()))?;
    if value.len() < MIN_SECRET_BYTES {
        return Err(AuthError::KeysUnavailable(format!(
            "{} is shorter than {MIN_SECRET_BYTES} bytes",
            secret.name()
        )));
    }
    Ok(value)
}

/// `role: "admin"` (tokens of this gateway) or membership of the `admin` group
/// (`cognito:groups`, Cognito); anyone else is a customer.
fn role_of(claims: &HashMap<String, Value>) -> Role {
    let admin_role = claims.get("role").and_then(Value::as_str) == Some("admin");
    let admin_group = claims
        .get("cognito:groups")
        .and_then(Value::as_array)
        .is_some_and(|groups| groups.iter().any(|g| g.as_str() == Some("admin")));
    if admin_role || admin_group {
        Role::Admin
    } else {
        Role::Customer
    }
}
/// Verifies the bearer token, if any, and makes the caller available to handlers. A
/// request without a token continues anonymously; one with a bad token stops here,
/// after counting against its client's address (so a flood of bad tokens is limited).
pub async fn authenticate(
    State(state): State<crate::routes::Shared>,
    mut request: Request,
    next: Next,
) -> Response {
    let bearer = request.headers().get(header::AUTHORIZATION).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .map(str::to_owned)
    });
    let refused = match bearer {
        None => return next.run(request).await,
        Some(None) => unauthorized("Use `Authorization: Bearer <token>`."),
        Some(Some(token)) => match state.auth.tokens.verify(&token).await {
            Ok(user) => match current(&state, &user).await {
                Ok(()) => {
                    request.extensions_mut().insert(user);
                    return next.run(request).await;
                }
                Err(refused) if refused.status == 401 => refused,
                // The version could not be read: no way to know the token still holds.
                Err(unavailable) => return unavailable.into_response(),
            },
            Err(error) => error.into(),
        },
    };
    let address = state.limiter.address_of(&request);
    match state.limiter.limit_address(&address).await {
        Some(limited) => limited,
        None => with_challenge(refused),
    }
}

/// A token of this gateway holds while its version is the user's current one (the
/// identity provider's tokens are revoked there).
async fn current(state: &crate::routes::Shared, user: &AuthUser) -> Result<(), Problem> {
    if !state.auth.tokens.issues_tokens() {
        return Ok(());
    }
    let version = state.auth.token_versions.current(&user.id).await?;
    if user.token_version < version {
        return Err(unauthorized(
            "The access token was revoked (signed out everywhere). Log in again.",
        ));
    }
    Ok(())
}

fn with_challenge(problem: Problem) -> Response {
    let status = problem.status;
    let mut response = problem.into_response();
    if status == 401 {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Extractor: the authenticated caller, or 401.
impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthUser>()
            .cloned()
            .ok_or_else(|| with_challenge(unauthorized("This resource needs an access token.")))
    }
}

/// Extractor: an authenticated administrator, or 401/403.
pub struct Admin(pub AuthUser);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                    .with_detail("This resource is for administrators.")
                    .into_response(),
            );
        }
        Ok(Admin(user))
    }
}

#[cfg(test)]
mod tests;
