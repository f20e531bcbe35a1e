//! The saga's steps, each declared once: its name, the activity that takes its effect,
//! its retry policy, its cancellation scope, whether it runs locally, and its
//! compensation, which names the service it calls (the breaker an operator's retry
//! resets). The forward path ([`FORWARD`]), the timeline, the
//! compensation and the attention list all read this table; what a step does is its
//! `run` function (in `forward.rs`).
//!
//! The rule for where a step runs: a short, idempotent service call runs **locally**,
//! inside the workflow task, so that the steps up to the reservation answer a checkout
//! in one workflow task, and the steps after the charge finish in one more (see
//! `calls.rs`: a local call that does not succeed within a few seconds goes on as a
//! regular activity). A call that can take long by its nature runs **remote**, on the
//! task queue, from the start: the charge, since a payment provider may take seconds
//! (`card_slow`) and its attempt must not hold a workflow task open.

use futures::future::LocalBoxFuture;
use saga_contract::{SagaInput, StepName};
use temporalio_sdk::WorkflowContext;

use super::OrderSaga;
use super::calls::{Call, Execution, Halt, Scope};
use crate::policies::{self, Policy};

/// What a forward step does.
pub(super) type RunStep = for<'a> fn(
    &'a WorkflowContext<OrderSaga>,
    &'a SagaInput,
) -> LocalBoxFuture<'a, Result<(), Halt>>;

/// What a compensation does, given the reason the saga failed.
pub(super) type RunCompensation =
    for<'a> fn(&'a WorkflowContext<OrderSaga>, &'a SagaInput, &'a str) -> LocalBoxFuture<'a, ()>;

/// A forward step.
pub(super) struct Step {
    pub(super) name: StepName,
    /// The activity that takes the step's effect (`None`: the step waits for a person).
    pub(super) activity: Option<&'static str>,
    pub(super) policy: Policy,
    pub(super) scope: Scope,
    pub(super) execution: Execution,
    /// What undoes the step's effect when the saga fails after it.
    pub(super) compensation: Option<&'static Compensation>,
    pub(super) run: RunStep,
}

impl Step {
    /// A call of this step, as the table declares it.
    pub(super) const fn call(&self) -> Call {
        Call {
            step: self.name,
            effect: self.activity,
            scope: self.scope,
            execution: self.execution,
            policy: self.policy,
        }
    }
}

/// A compensating step: out of any cancellation's reach, retried in rounds until it
/// succeeds (`compensation.rs`).
pub(super) struct Compensation {
    pub(super) name: StepName,
    pub(super) activity: &'static str,
    /// The service it calls: whose breaker an operator's "retry now" resets.
    pub(super) service: &'static str,
    pub(super) execution: Execution,
    pub(super) run: RunCompensation,
}

impl Compensation {
    /// A round of this compensation.
    pub(super) const fn call(&self) -> Call {
        Call {
            step: self.name,
            effect: Some(self.activity),
            scope: Scope::Shielded,
            execution: self.execution,
            policy: policies::COMPENSATION_ROUND,
        }
    }
}

pub(super) const REFUND_PAYMENT: Compensation = Compensation {
    name: StepName::RefundPayment,
    activity: "refund_payment",
    service: "payment",
    execution: Execution::Local,
    run: |ctx, input, _| Box::pin(OrderSaga::refund(ctx, input)),
};

pub(super) const RELEASE_INVENTORY: Compensation = Compensation {
    name: StepName::ReleaseInventory,
    activity: "release_inventory",
    service: "inventory",
    execution: Execution::Local,
    run: |ctx, input, _| Box::pin(OrderSaga::release(ctx, input)),
};

pub(super) const CANCEL_ORDER: Compensation = Compensation {
    name: StepName::CancelOrder,
    activity: "cancel_order",
    service: "order",
    execution: Execution::Local,
    run: |ctx, input, reason| Box::pin(OrderSaga::cancel_order(ctx, input, reason)),
};

/// The last word of a saga that failed: not the undoing of a step, but run like one.
pub(super) const NOTIFY_FAILURE: Compensation = Compensation {
    name: StepName::NotifyFailure,
    activity: "record_notification",
    service: "notification",
    execution: Execution::Local,
    run: |ctx, input, reason| Box::pin(OrderSaga::notify_failure(ctx, input, reason)),
};

/// The forward path, in order. Until the charge is captured a cancellation request
/// stops the saga; from the confirmation on, the order recovers forward whatever is
/// requested.
pub(super) const FORWARD: [Step; 6] = [
    Step {
        name: StepName::CreateOrder,
        activity: Some("create_order"),
        policy: policies::CREATE_ORDER,
        scope: Scope::Cancellable,
        execution: Execution::Local,
        compensation: Some(&CANCEL_ORDER),
        run: |ctx, input| Box::pin(OrderSaga::create_order(ctx, input)),
    },
    Step {
        name: StepName::ReserveInventory,
        activity: Some("reserve_inventory"),
        policy: policies::RESERVE_INVENTORY,
        scope: Scope::Cancellable,
        execution: Execution::Local,
        compensation: Some(&RELEASE_INVENTORY),
        run: |ctx, input| Box::pin(OrderSaga::reserve_stock(ctx, input)),
    },
    Step {
        name: StepName::AwaitApproval,
        activity: None,
        policy: policies::STEP_EVENT,
        scope: Scope::Cancellable,
        execution: Execution::Local,
        compensation: None,
        run: |ctx, input| Box::pin(OrderSaga::review_if_large(ctx, input)),
    },
    Step {
        name: StepName::ChargePayment,
        activity: Some("charge_payment"),
        policy: policies::CHARGE_PAYMENT,
        scope: Scope::Cancellable,
        execution: Execution::Remote,
        compensation: Some(&REFUND_PAYMENT),
        run: |ctx, input| Box::pin(OrderSaga::take_payment(ctx, input)),
    },
    Step {
        name: StepName::ConfirmOrder,
        activity: Some("commit_reservation"),
        policy: policies::CONFIRM_ORDER,
        scope: Scope::Shielded,
        execution: Execution::Local,
        compensation: None,
        run: |ctx, input| Box::pin(OrderSaga::confirm(ctx, input)),
    },
    Step {
        name: StepName::NotifyCustomer,
        activity: Some("record_notification"),
        policy: policies::FINAL_NOTIFICATION,
        scope: Scope::Shielded,
        execution: Execution::Local,
        compensation: None,
        run: |ctx, input| Box::pin(OrderSaga::notify_completed(ctx, input)),
    },
];

/// The forward step called `name` (a compensating step's name is none of them).
pub(super) fn step(name: StepName) -> &'static Step {
    FORWARD
        .iter()
        .find(|step| step.name == name)
        .unwrap_or_else(|| unreachable!("{name:?} is not a forward step"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activities::SagaActivities;

    /// The table names each step's activity as a string: it must be one the worker
    /// registers, and the one its `run` function calls (see `forward.rs`).
    #[test]
    fn the_table_names_the_activities_the_steps_run() {
        let names = [
            (StepName::CreateOrder, SagaActivities::create_order.name()),
            (
                StepName::ReserveInventory,
                SagaActivities::reserve_inventory.name(),
            ),
            (
                StepName::ChargePayment,
                SagaActivities::charge_payment.name(),
            ),
            (
                StepName::ConfirmOrder,
                SagaActivities::commit_reservation.name(),
            ),
            (
                StepName::NotifyCustomer,
                SagaActivities::record_notification.name(),
            ),
        ];
        for (step, activity) in names {
            assert_eq!(super::step(step).activity, Some(activity));
        }
        assert_eq!(
            REFUND_PAYMENT.activity,
            SagaActivities::refund_payment.name()
        );
        assert_eq!(
            RELEASE_INVENTORY.activity,
            SagaActivities::release_inventory.name()
        );
        assert_eq!(CANCEL_ORDER.activity, SagaActivities::cancel_order.name());
        assert_eq!(
            NOTIFY_FAILURE.activity,
            SagaActivities::record_notification.name()
        );
    }

    #[test]
    fn every_effect_before_the_capture_is_compensated_and_nothing_after_it() {
        let compensated: Vec<StepName> = FORWARD
            .iter()
            .filter(|step| step.compensation.is_some())
            .map(|step| step.name)
            .collect();
        assert_eq!(
            compensated,
            [
                StepName::CreateOrder,
                StepName::ReserveInventory,
                StepName::ChargePayment
            ]
        );
        let charge = FORWARD
            .iter()
            .position(|s| s.name == StepName::ChargePayment)
            .expect("a charge");
        for (i, step) in FORWARD.iter().enumerate() {
            assert_eq!(
                step.scope == Scope::Cancellable,
                i <= charge,
                "{:?}: cancellable exactly until the charge",
                step.name
            );
        }
    }

    #[test]
    fn only_the_charge_runs_on_the_task_queue() {
        let remote: Vec<StepName> = FORWARD
            .iter()
            .filter(|step| step.execution == Execution::Remote)
            .map(|step| step.name)
            .collect();
        assert_eq!(remote, [StepName::ChargePayment]);
    }
}
