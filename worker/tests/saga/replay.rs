//! Replays the recorded history of every saga path against the current workflow code:
//! a change that breaks determinism fails here, before it can break running sagas.
//! Re-record with `RECORD_HISTORIES=1 infra/test.sh` after an intended change of the
//! workflow's commands (and version it with `ctx.patched` if sagas are in flight).

use service_kit::payload_codec;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use worker::workflow::OrderSaga;

use crate::support::histories_dir;

/// The paths recorded by the current workflow (`tests/histories/`).
const PATHS: &[&str] = &[
    "success",
    "out_of_stock",
    "decline",
    "retry_then_success",
    "approval_timeout",
    "approval_granted",
    "cancel",
    "operator_cancel_during_charge",
    "operator_cancel_after_capture",
    "malformed_signals",
    "review_approved",
    "review_rejected",
    "review_timeout",
    "checkout_held",
    "checkout_out_of_stock",
    "breaker_open_during_step",
    "compensation_stuck_then_recovered",
    "compensation_stuck_retried_now",
    // A local step that did not succeed in its local phase, and went on as a regular
    // activity.
    "local_step_gone_remote",
    // Signed reviews: the `approve` and `reject` signals noted and ignored (one sent
    // with the saga's start), the reviewer named.
    "review_signals_ignored",
    "review_signal_with_start_ignored",
    "review_signed",
    // Signed cancellations: the `cancel` signal noted and ignored; the customer's
    // cancellation is the `decide` update ("cancel" above too).
    "cancel_signal_ignored",
    // Limits per customer: the order refused at its creation, before any stock is
    // held; an order reviewed because of the customer's other open orders.
    "open_order_limit",
    "review_of_open_total",
];

/// Recorded before a compensated saga set its `SagaOutcome` search attribute (the
/// `outcome-search-attribute` patch): every path that compensates
/// (`tests/histories/before-saga-outcome/`).
const BEFORE_SAGA_OUTCOME: &[&str] = &[
    "out_of_stock",
    "decline",
    "approval_timeout",
    "cancel",
    "operator_cancel_during_charge",
    "review_rejected",
    "review_timeout",
    "checkout_out_of_stock",
    "compensation_stuck_then_recovered",
    "compensation_stuck_retried_now",
    "open_order_limit",
    "cancel_signal_ignored",
];

/// Recorded before the `cancel` signal was ignored (the `signed-cancellations` patch):
/// the customer's cancellation by signal (`tests/histories/before-signed-cancellations/`).
const BEFORE_SIGNED_CANCELLATIONS: &[&str] = &["cancel"];

/// Recorded before reviews named their reviewer (the `signed-reviews` patch): the
/// `approve` and `reject` signals decide, `decide` updates name no one
/// (`tests/histories/before-signed-reviews/`).
const BEFORE_SIGNED_REVIEWS: &[&str] = &[
    "success",
    "out_of_stock",
    "decline",
    "retry_then_success",
    "approval_timeout",
    // Approved by the `approve` signal.
    "approval_granted",
    "cancel",
    "operator_cancel_during_charge",
    "operator_cancel_after_capture",
    // Approved by the `approve` signal after malformed ones.
    "malformed_signals",
    // Decided by `decide` updates that name no reviewer.
    "review_approved",
    "review_rejected",
    "review_timeout",
    "checkout_held",
    "checkout_out_of_stock",
    "breaker_open_during_step",
    // Rejected by the `reject` signal.
    "compensation_stuck_then_recovered",
    "compensation_stuck_retried_now",
    "local_step_gone_remote",
];

/// Recorded before steps ran as local activities (the `local-steps` patch): sagas in
/// flight when it was deployed replay the old way (`tests/histories/before-local-steps/`).
const BEFORE_LOCAL_STEPS: &[&str] = &[
    "success",
    // Recorded before saga payloads were encrypted: the codec passes them through.
    "success_unencrypted",
    "out_of_stock",
    "decline",
    // Recorded before the `compensate-refused-steps` patch.
    "out_of_stock_unpatched",
    "decline_unpatched",
    "retry_then_success",
    "approval_timeout",
    "approval_granted",
    "cancel",
    "operator_cancel_during_charge",
    "operator_cancel_after_capture",
    "malformed_signals",
    // Reviews as the `decide` update, with the `SagaPhase` search attribute.
    "review_approved",
    "review_rejected",
    "review_timeout",
    // Checkouts answered by Update-with-Start (the `reservation` update).
    "checkout_held",
    "checkout_out_of_stock",
    // A step retried while the service's breaker was open; a compensation that failed
    // round after round, alerted the admins, and completed once the service was back.
    "breaker_open_during_step",
    "compensation_stuck_then_recovered",
    // The same, with the `SagaAttention` search attribute and an operator's retry_now.
    "compensation_stuck_retried_now",
];

#[tokio::test]
async fn every_recorded_saga_path_replays_deterministically() {
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<OrderSaga>()
            .expect("register the workflow")
            .data_converter(payload_codec::data_converter(Some(
                payload_codec::test_keys(),
            )))
            .build(),
    )
    .expect("replayer");
    let current = PATHS
        .iter()
        .map(|path| histories_dir().join(format!("{path}.json")));
    let before = |dir: &'static str, paths: &'static [&'static str]| {
        paths
            .iter()
            .map(move |path| histories_dir().join(dir).join(format!("{path}.json")))
    };
    let files = current
        .chain(before("before-saga-outcome", BEFORE_SAGA_OUTCOME))
        .chain(before(
            "before-signed-cancellations",
            BEFORE_SIGNED_CANCELLATIONS,
        ))
        .chain(before("before-signed-reviews", BEFORE_SIGNED_REVIEWS))
        .chain(before("before-local-steps", BEFORE_LOCAL_STEPS));
    for file in files {
        let path = file.display();
        let json = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("{path}: {e}; record it with RECORD_HISTORIES=1"));
        let history = WorkflowHistory::from_json(&json)
            .unwrap_or_else(|e| panic!("{path}: not a history: {e}"));
        if let Err(error) = replayer.replay_workflow(history).await {
            panic!("{path} no longer replays: {error}");
        }
    }
}
