//! The codec endpoint of Temporal's remote codec protocol, so that an operator reads the
//! saga's encrypted payloads in clear in the Temporal Web UI or the `temporal` CLI
//! (`--codec-endpoint <gateway>/v1/admin/codec`, which calls `…/decode`, and `…/encode`
//! for what they send: a signal's or a query's input).
//!
//! Administrators only: the payloads name customers and what they bought. Browsers may
//! call it only from the Temporal Web UI's origin (see the gateway's CORS layer).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use service_kit::Problem;
use service_kit::extract::Json;
use service_kit::payload_codec::{CodecError, KeyRing, Payload, is_encrypted};
use utoipa::ToSchema;

use super::{ApiRoutes, Shared};
use crate::auth::Admin;
use crate::openapi::ProblemDoc;

/// Where the codec endpoint lives (Temporal's clients append `/decode`).
pub const PATH_PREFIX: &str = "/v1/admin/codec/";

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(decode))
        .routes(api_routes!(encode))
}

/// Temporal's `Payloads`, in its protobuf JSON form.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payloads {
    /// Absent when empty, as protobuf JSON writes it.
    #[serde(default)]
    pub payloads: Vec<PayloadJson>,
}

/// One payload: its metadata values and its data, in base64. Other fields of the
/// protocol (`externalPayloads`) are not used by this codec and are ignored.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(try_from = "Map<String, Value>")]
pub struct PayloadJson {
    #[serde(default)]
    #[schema(value_type = HashMap<String, Base64>)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    #[schema(value_type = Base64)]
    pub data: String,
}

/// Standard base64 with padding, as protobuf JSON writes bytes.
#[derive(ToSchema)]
#[schema(
    pattern = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
)]
#[allow(dead_code)]
pub struct Base64(String);

/// Read from a JSON object only: serde would also read a struct whose fields all have
/// defaults from an array (`[]`), which the published schema does not allow.
impl TryFrom<Map<String, Value>> for PayloadJson {
    type Error = serde_json::Error;

    fn try_from(object: Map<String, Value>) -> Result<Self, Self::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(default)]
            metadata: HashMap<String, String>,
            #[serde(default)]
            data: String,
        }
        let fields: Fields = serde_json::from_value(Value::Object(object))?;
        Ok(Self {
            metadata: fields.metadata,
            data: fields.data,
        })
    }
}

impl PayloadJson {
    fn into_payload(self, index: usize) -> Result<Payload, Problem> {
        let invalid =
            || Problem::invalid(format!("payloads[{index}] is not base64 protobuf JSON."));
        let metadata = self
            .metadata
            .into_iter()
            .map(|(key, value)| Ok((key, BASE64.decode(value).map_err(|_| invalid())?)))
            .collect::<Result<_, Problem>>()?;
        Ok(Payload {
            metadata,
            data: BASE64.decode(self.data).map_err(|_| invalid())?,
            external_payloads: Vec::new(),
        })
    }

    fn from_payload(payload: Payload) -> Self {
        Self {
            metadata: payload
                .metadata
                .into_iter()
                .map(|(key, value)| (key, BASE64.encode(value)))
                .collect(),
            data: BASE64.encode(payload.data),
        }
    }
}

/// Decrypts saga payloads for the Temporal Web UI and CLI (Temporal's remote codec
/// protocol). Payloads that are not encrypted come back unchanged. The body limit of
/// every route (64 KiB) bounds the work of one request.
#[utoipa::path(post, path = "/v1/admin/codec/decode", tag = "admin", security(("bearer" = [])), request_body = Payloads,
    responses(
        (status = 200, description = "The payloads, decrypted", body = Payloads),
        (status = 403, description = "Not an administrator", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A payload is not valid, or does not open with any key of the ring", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn decode(
    State(state): State<Shared>,
    _admin: Admin,
    Json(body): Json<Payloads>,
) -> Result<Json<Payloads>, Problem> {
    let payloads = parse(body)?;
    // A batch in clear needs no key.
    let ring = if payloads.iter().any(is_encrypted) {
        current_ring(&state).await?
    } else {
        None
    };
    let mut decoded = Vec::with_capacity(payloads.len());
    for (index, payload) in payloads.into_iter().enumerate() {
        let payload = match (&ring, is_encrypted(&payload)) {
            (_, false) => payload,
            (Some(ring), true) => ring
                .decrypt(payload)
                .map_err(|error| undecodable(index, &error))?,
            (None, true) => {
                return Err(undecodable(index, &CodecError::UnknownKey(String::new())));
            }
        };
        decoded.push(PayloadJson::from_payload(payload));
    }
    Ok(Json(Payloads { payloads: decoded }))
}

/// Encrypts payloads under the current key, as the saga's own clients do: what the
/// Temporal Web UI and CLI send to a saga (a signal's or a query's input). Encrypted
/// payloads are left as they are.
#[utoipa::path(post, path = "/v1/admin/codec/encode", tag = "admin", security(("bearer" = [])), request_body = Payloads,
    responses(
        (status = 200, description = "The payloads, encrypted", body = Payloads),
        (status = 403, description = "Not an administrator", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A payload is not valid", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn encode(
    State(state): State<Shared>,
    _admin: Admin,
    Json(body): Json<Payloads>,
) -> Result<Json<Payloads>, Problem> {
    let payloads = parse(body)?;
    // Without keys (payloads in clear, local only), encoding changes nothing.
    let ring = current_ring(&state).await?;
    let payloads = payloads
        .into_iter()
        .map(|payload| match &ring {
            Some(ring) if !is_encrypted(&payload) => ring.encrypt(&payload),
            _ => payload,
        })
        .map(PayloadJson::from_payload)
        .collect();
    Ok(Json(Payloads { payloads }))
}

fn parse(body: Payloads) -> Result<Vec<Payload>, Problem> {
    body.payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| payload.into_payload(index))
        .collect()
}

async fn current_ring(state: &Shared) -> Result<Option<Arc<KeyRing>>, Problem> {
    let Some(keys) = state.orders.sagas.payload_keys() else {
        return Ok(None);
    };
    keys.ring().await.map(Some).map_err(|error| {
        tracing::error!(%error, "codec endpoint: no key ring");
        Problem::unavailable("Payloads cannot be decoded right now. Retry shortly.")
    })
}

fn undecodable(index: usize, error: &CodecError) -> Problem {
    tracing::warn!(index, %error, "codec endpoint: a payload does not decode");
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "undecodable-payload",
        "Undecodable payload",
    )
    .with_detail(format!(
        "payloads[{index}] does not open with any key this gateway holds."
    ))
}
