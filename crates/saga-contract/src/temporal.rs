//! Typed Temporal definitions of the saga for callers that start, signal and query it
//! without linking the worker (feature `temporal`). The worker's test suite checks that
//! they match the workflow it registers.

use temporalio_common::{
    HasWorkflowDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};

use super::{Decision, OrderDecision, ReservationOutcome, SagaInput, SagaResult, SagaStatus};

pub struct OrderSaga;

impl WorkflowDefinition for OrderSaga {
    type Input = SagaInput;
    type Output = SagaResult;
    fn name(&self) -> &str {
        super::WORKFLOW_TYPE
    }
}

impl HasWorkflowDefinition for OrderSaga {
    type Run = Self;
}

pub struct Approve;

impl SignalDefinition for Approve {
    type Workflow = OrderSaga;
    type Input = ();
    fn name(&self) -> &str {
        super::APPROVE_SIGNAL
    }
}

pub struct Reject;

impl SignalDefinition for Reject {
    type Workflow = OrderSaga;
    type Input = Decision;
    fn name(&self) -> &str {
        super::REJECT_SIGNAL
    }
}

pub struct Cancel;

impl SignalDefinition for Cancel {
    type Workflow = OrderSaga;
    type Input = Decision;
    fn name(&self) -> &str {
        super::CANCEL_SIGNAL
    }
}

pub struct Decide;

impl UpdateDefinition for Decide {
    type Workflow = OrderSaga;
    type Input = OrderDecision;
    type Output = SagaStatus;
    fn name(&self) -> &str {
        super::DECIDE_UPDATE
    }
}

pub struct Reservation;

impl UpdateDefinition for Reservation {
    type Workflow = OrderSaga;
    type Input = ();
    type Output = ReservationOutcome;
    fn name(&self) -> &str {
        super::RESERVATION_UPDATE
    }
}

pub struct RetryNow;

impl UpdateDefinition for RetryNow {
    type Workflow = OrderSaga;
    type Input = ();
    type Output = SagaStatus;
    fn name(&self) -> &str {
        super::RETRY_NOW_UPDATE
    }
}

pub struct Status;

impl QueryDefinition for Status {
    type Workflow = OrderSaga;
    type Input = ();
    type Output = SagaStatus;
    fn name(&self) -> &str {
        super::STATUS_QUERY
    }
}
