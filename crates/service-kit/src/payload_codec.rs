//! Saga payloads encrypted before they reach Temporal: workflow inputs and results,
//! activity arguments and results, signals and queries, which name customers, order
//! lines and reasons, and which Temporal (Temporal Cloud included) stores in its
//! histories.
//!
//! Each payload is sealed whole (its metadata and data, as the protobuf `Payload`) with
//! AES-256-GCM under the key ring's current key, and sent as a payload of encoding
//! [`ENCODING`] whose metadata names the key ([`KEY_ID`]). Decoding looks the key up by
//! that id, so a ring that keeps its old keys still opens histories written before a
//! rotation. Payloads that are not encrypted pass through decoding unchanged: histories
//! recorded before encryption still replay, and an operator's `temporal workflow
//! signal --input '…'` still reaches the saga (where the workflow's own validation of
//! signal payloads applies).
//!
//! The key ring is the secret `PAYLOAD_KEYS` (see [`crate::secrets`]): a value locally
//! (`infra/run.sh` makes one per checkout), a Secrets Manager ARN in `PAYLOAD_KEYS_ARN`
//! on AWS, re-read within [`crate::secrets::CACHE_TTL`] so a rotation needs no restart:
//!
//! ```json
//! {"current": "2026-12", "keys": {"2026-12": "<32 random bytes, base64>", "2026-06": "…"}}
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::FutureExt;
use futures::future::BoxFuture;
use prost::Message;
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
pub use temporalio_common::protos::temporal::api::common::v1::Payload;

use crate::config::ConfigError;
use crate::secrets::Secret;

/// The `encoding` of an encrypted payload.
pub const ENCODING: &str = "binary/encrypted";
/// The metadata entry naming the key that sealed a payload.
pub const KEY_ID: &str = "encryption-key-id";
/// The secret holding the key ring.
pub const SECRET_NAME: &str = "PAYLOAD_KEYS";
const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("the payload key ring is invalid: {0}")]
    InvalidKeyRing(String),
    #[error("no key {0:?} in the payload key ring")]
    UnknownKey(String),
    #[error("an encrypted payload does not open with key {0:?}")]
    Corrupt(String),
    #[error("the payload key ring is unavailable: {0}")]
    Unavailable(String),
}

/// The keys that open payloads, by id, and the one that seals new payloads.
pub struct KeyRing {
    current: String,
    keys: HashMap<String, LessSafeKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRingDocument {
    current: String,
    keys: HashMap<String, String>,
}

impl KeyRing {
    /// Parses the ring's JSON document. Errors name the key id at fault, never a key.
    pub fn from_json(text: &str) -> Result<Self, CodecError> {
        let document: KeyRingDocument = serde_json::from_str(text).map_err(|e| {
            // serde's message may quote the input; keep only where it failed.
            CodecError::InvalidKeyRing(format!(
                "not a {{\"current\", \"keys\"}} document (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let mut keys = HashMap::new();
        for (id, encoded) in document.keys {
            let bytes = BASE64
                .decode(encoded.trim())
                .map_err(|_| CodecError::InvalidKeyRing(format!("key {id:?} is not base64")))?;
            if id.is_empty() || bytes.len() != KEY_BYTES {
                return Err(CodecError::InvalidKeyRing(format!(
                    "key {id:?} must be a non-empty id with {KEY_BYTES} bytes of key"
                )));
            }
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| CodecError::InvalidKeyRing(format!("key {id:?} is unusable")))?;
            keys.insert(id, LessSafeKey::new(key));
        }
        if !keys.contains_key(&document.current) {
            return Err(CodecError::InvalidKeyRing(format!(
                "the current key {:?} is not among the keys",
                document.current
            )));
        }
        Ok(Self {
            current: document.current,
            keys,
        })
    }

    /// A new ring document with one random key named `id`.
    pub fn generate_json(id: &str) -> String {
        let mut key = [0u8; KEY_BYTES];
        aws_lc_rs::rand::fill(&mut key).expect("the system's random source works");
        serde_json::json!({ "current": id, "keys": { id: BASE64.encode(key) } }).to_string()
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// Seals `payload` under the current key.
    pub fn encrypt(&self, payload: &Payload) -> Payload {
        let key = &self.keys[&self.current];
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system's random source works");
        let mut sealed = payload.encode_to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(self.current.as_bytes()),
            &mut sealed,
        )
        .expect("AES-GCM seals any payload under 64 GiB");
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        Payload {
            metadata: HashMap::from([
                ("encoding".to_owned(), ENCODING.as_bytes().to_vec()),
                (KEY_ID.to_owned(), self.current.as_bytes().to_vec()),
            ]),
            data,
            external_payloads: Vec::new(),
        }
    }

    /// Opens an encrypted payload; any other payload is returned as it is.
    pub fn decrypt(&self, payload: Payload) -> Result<Payload, CodecError> {
        if !is_encrypted(&payload) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID)
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .unwrap_or_default();
        let key = self
            .keys
            .get(&id)
            .ok_or_else(|| CodecError::UnknownKey(id.clone()))?;
        if payload.data.len() < NONCE_LEN {
            return Err(CodecError::Corrupt(id));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CodecError::Corrupt(id.clone()))?;
        let mut sealed = sealed.to_vec();
        let opened = key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut sealed)
            .map_err(|_| CodecError::Corrupt(id.clone()))?;
        Payload::decode(&*opened).map_err(|_| CodecError::Corrupt(id))
    }
}

pub fn is_encrypted(payload: &Payload) -> bool {
    payload.metadata.get("encoding").map(Vec::as_slice) == Some(ENCODING.as_bytes())
}

/// Where the ring comes from: the secret, re-parsed only when its value changes.
pub struct PayloadKeys {
    secret: Secret,
    parsed: Mutex<Option<(Arc<str>, Arc<KeyRing>)>>,
}

impl PayloadKeys {
    pub fn new(secret: Secret) -> Self {
        Self {
            secret,
            parsed: Mutex::new(None),
        }
    }

    /// The ring of `PAYLOAD_KEYS` / `PAYLOAD_KEYS_ARN`, checked now so that a missing
    /// or invalid ring stops the process at start, not at its first saga. Without
    /// either, payloads travel in clear only where `ALLOW_PLAINTEXT_PAYLOADS=true` says
    /// so (the compose file), never on Lambda; `Ok(None)` then.
    pub async fn from_env() -> Result<Option<Arc<Self>>, ConfigError> {
        let keys = Self::configured().await?;
        if let Some(keys) = &keys {
            keys.check().await?;
        }
        Ok(keys)
    }

    /// [`from_env`](Self::from_env) without its check: for a caller that checks the
    /// ring itself ([`check`](Self::check)), at the same time as other secrets.
    pub async fn configured() -> Result<Option<Arc<Self>>, ConfigError> {
        let allow_plaintext = crate::config::optional("ALLOW_PLAINTEXT_PAYLOADS", false)?;
        let Some(secret) = Secret::from_env(SECRET_NAME).await? else {
            if allow_plaintext && !crate::serve::running_in_lambda() {
                tracing::warn!(
                    "ALLOW_PLAINTEXT_PAYLOADS=true: saga payloads are stored in Temporal unencrypted; for local use only"
                );
                return Ok(None);
            }
            return Err(ConfigError::new(format!(
                "{SECRET_NAME} (a key ring) or {SECRET_NAME}_ARN is required to encrypt saga payloads"
            )));
        };
        Ok(Some(Arc::new(Self::new(secret))))
    }

    /// Fetches and parses the ring: an error when it is unavailable or invalid.
    pub async fn check(&self) -> Result<(), ConfigError> {
        self.ring()
            .await
            .map(|_| ())
            .map_err(|e| ConfigError::new(e.to_string()))
    }

    /// The current ring.
    pub async fn ring(&self) -> Result<Arc<KeyRing>, CodecError> {
        let text = self
            .secret
            .get()
            .await
            .map_err(|e| CodecError::Unavailable(e.to_string()))?;
        let mut parsed = self.parsed.lock().expect("not poisoned");
        if let Some((source, ring)) = parsed.as_ref()
            && Arc::ptr_eq(source, &text)
        {
            return Ok(ring.clone());
        }
        let ring = Arc::new(KeyRing::from_json(&text)?);
        *parsed = Some((text, ring.clone()));
        Ok(ring)
    }
}

/// The ring of the tests, as `PAYLOAD_KEYS` gives it: one fixed key, so that histories
/// recorded by the tests replay in a later run. It is public, and used nowhere but in
/// tests.
#[cfg(feature = "test-support")]
pub fn test_ring_json() -> String {
    serde_json::json!({"current": "test", "keys": {"test": BASE64.encode([0x5a; KEY_BYTES])}})
        .to_string()
}

/// [`test_ring_json`], for the clients and workers the tests start in process.
#[cfg(feature = "test-support")]
pub fn test_keys() -> Arc<PayloadKeys> {
    static KEYS: std::sync::OnceLock<Arc<PayloadKeys>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        Arc::new(PayloadKeys::new(Secret::value(
            SECRET_NAME,
            test_ring_json(),
        )))
    })
    .clone()
}

/// A payload of `data` in `encoding` ("json/plain", "binary/null"...), as a client
/// that bypasses the typed API sends it, for tests of what the receiver makes of it.
#[cfg(feature = "test-support")]
pub fn test_payload(encoding: &str, data: &[u8]) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_owned(), encoding.as_bytes().to_vec())]),
        data: data.to_vec(),
        external_payloads: Vec::new(),
    }
}

/// The Temporal codec over [`PayloadKeys`].
pub struct EncryptionCodec(pub Arc<PayloadKeys>);

fn conversion_error(error: CodecError) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(error))
}

/// What [`PayloadCodec`] answers with.
type Coded = BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>>;

impl EncryptionCodec {
    /// Applies `code` with the current ring, which may first have to be fetched.
    fn with_ring<F>(&self, code: F) -> Coded
    where
        F: FnOnce(&KeyRing) -> Result<Vec<Payload>, PayloadConversionError> + Send + 'static,
    {
        let keys = self.0.clone();
        async move {
            let ring = keys.ring().await.map_err(conversion_error)?;
            code(&ring)
        }
        .boxed()
    }
}

impl PayloadCodec for EncryptionCodec {
    fn encode(&self, _: &SerializationContextData, payloads: Vec<Payload>) -> Coded {
        self.with_ring(move |ring| Ok(payloads.iter().map(|p| ring.encrypt(p)).collect()))
    }

    fn decode(&self, _: &SerializationContextData, payloads: Vec<Payload>) -> Coded {
        // A batch in clear needs no key: don't fetch one.
        if !payloads.iter().any(is_encrypted) {
            return futures::future::ready(Ok(payloads)).boxed();
        }
        self.with_ring(move |ring| {
            payloads
                .into_iter()
                .map(|p| ring.decrypt(p).map_err(conversion_error))
                .collect()
        })
    }
}

/// The SDK's standard converter, with payloads encrypted when there are keys.
pub fn data_converter(keys: Option<Arc<PayloadKeys>>) -> DataConverter {
    match keys {
        Some(keys) => DataConverter::new(
            PayloadConverter::default(),
            DefaultFailureConverter::default(),
            EncryptionCodec(keys),
        ),
        None => DataConverter::default(),
    }
}

#[cfg(test)]
mod tests;
