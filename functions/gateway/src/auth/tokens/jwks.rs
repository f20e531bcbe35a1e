//! The identity provider's public keys (JWKS mode): fetched, cached, and fetched again
//! when a token names a key the cache does not hold.

use std::time::Instant;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::RwLock;

use super::{AuthError, JWKS_REFETCH_MIN, JWKS_TTL};

/// The keys of `url`, with what a token signed by them must also satisfy.
pub(super) struct JwksCache {
    pub(super) url: String,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) cognito_client_id: Option<String>,
    pub(super) http: reqwest::Client,
    pub(super) keys: RwLock<Option<(Instant, JwkSet)>>,
}

impl JwksCache {
    pub(super) async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some((fetched, set)) = self.keys.read().await.as_ref() {
            let fresh = fetched.elapsed() < JWKS_TTL;
            match set.find(kid) {
                Some(jwk) if fresh => return decoding_key(jwk),
                None if fetched.elapsed() < JWKS_REFETCH_MIN => {
                    return Err(AuthError::Invalid(format!("unknown kid {kid}")));
                }
                _ => {}
            }
        }
        let set = self.fetch().await?;
        let key = set
            .find(kid)
            .map(decoding_key)
            .unwrap_or_else(|| Err(AuthError::Invalid(format!("unknown kid {kid}"))));
        *self.keys.write().await = Some((Instant::now(), set));
        key
    }

    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| AuthError::KeysUnavailable(e.to_string()))?;
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| AuthError::KeysUnavailable(e.to_string()))
    }
}

fn decoding_key(jwk: &jsonwebtoken::jwk::Jwk) -> Result<DecodingKey, AuthError> {
    DecodingKey::from_jwk(jwk).map_err(|e| AuthError::Invalid(format!("unusable key: {e}")))
}
