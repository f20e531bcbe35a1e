//! HTTP routes of the payment service. The service is private: the order saga
//! charges and refunds; the gateway reads ledgers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Router};
use service_kit::Problem;
use service_kit::extract::{Json, Path};
use service_kit::failure::FailureMode;
use service_kit::validate::{parse_amount, parse_currency, parse_id, path_id};

use saga_contract::calls::ChargeBody;

use crate::domain::{Charge, Ledger, Refund};
use crate::operations::{self, ChargeRequest};
use crate::provider::Provider;
use crate::store::PaymentStore;

pub struct PaymentState {
    pub store: PaymentStore,
    pub provider: Provider,
}

pub fn routes(state: Arc<PaymentState>) -> Router {
    Router::new()
        .route("/payments/{order_id}", get(ledger))
        .route("/payments/{order_id}/charge", post(charge))
        .route("/payments/{order_id}/refund", post(refund))
        .with_state(state)
}

/// 201 with an approved charge, 200 with the same charge when repeated, 402 when
/// declined (every time), 409 when it differs from the order's charge or the order was
/// refunded (voided) first, 503 when the provider failed transiently (nothing charged).
async fn charge(
    State(state): State<Arc<PaymentState>>,
    // Absent where failure injection is off.
    mode: Option<Extension<FailureMode>>,
    Path(order_id): Path<String>,
    Json(body): Json<ChargeBody>,
) -> Result<(StatusCode, Json<Charge>), Problem> {
    let request = ChargeRequest {
        order_id: parse_id(&order_id, "order_id").map_err(Problem::invalid)?,
        amount: parse_amount(body.amount, "amount").map_err(Problem::invalid)?,
        currency: parse_currency(&body.currency).map_err(Problem::invalid)?,
        method: body.method.parse().map_err(Problem::invalid)?,
    };
    let declining = matches!(mode, Some(Extension(FailureMode::Decline)));
    let provider = state.provider.declining(declining);
    let (charge, outcome) = operations::charge(&state.store, &provider, request).await?;
    Ok(outcome.reply(charge))
}

/// 201 with the refund of whatever was captured, 200 with the same refund when
/// repeated. A charge still PENDING is settled with the provider first, or voided.
async fn refund(
    State(state): State<Arc<PaymentState>>,
    Path(order_id): Path<String>,
) -> Result<(StatusCode, Json<Refund>), Problem> {
    let order_id = parse_id(&order_id, "order_id").map_err(Problem::invalid)?;
    let (refund, outcome) = operations::refund(&state.store, &state.provider, &order_id).await?;
    Ok(outcome.reply(refund))
}

async fn ledger(
    State(state): State<Arc<PaymentState>>,
    Path(order_id): Path<String>,
) -> Result<Json<Ledger>, Problem> {
    let order_id = path_id(&order_id, "order_id")?;
    Ok(Json(operations::ledger(&state.store, &order_id).await?))
}
