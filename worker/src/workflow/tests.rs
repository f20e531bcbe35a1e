use saga_contract::temporal;
use temporalio_common::{QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition};

use super::*;

/// Callers use the contract's definitions: they must name what the worker runs.
#[test]
fn the_contract_names_the_registered_workflow_signals_query_and_update() {
    assert_eq!(OrderSaga::run.name(), temporal::OrderSaga.name());
    assert_eq!(OrderSaga::approve.name(), temporal::Approve.name());
    assert_eq!(OrderSaga::reject.name(), temporal::Reject.name());
    assert_eq!(OrderSaga::cancel.name(), temporal::Cancel.name());
    assert_eq!(OrderSaga::status.name(), temporal::Status.name());
    assert_eq!(OrderSaga::decide.name(), temporal::Decide.name());
    assert_eq!(OrderSaga::reservation.name(), temporal::Reservation.name());
    assert_eq!(OrderSaga::retry_now.name(), temporal::RetryNow.name());
}

#[test]
fn the_monitor_knows_every_signal_the_saga_handles() {
    let handled = [
        OrderSaga::approve.name(),
        OrderSaga::reject.name(),
        OrderSaga::cancel.name(),
        OrderSaga::attempt_failed.name(),
    ];
    assert_eq!(SIGNALS, handled);
}
