//! How the saga runs one activity of a step: in which cancellation scope, with which
//! retry policy, and how its outcome reaches the timeline and the compensation list.

use saga_contract::{ReservationOutcome, StepName};
use std::time::Duration;
use temporalio_common::ActivityDefinition;
use temporalio_common::error::IncomingError;

use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, TimerOptions,
    WaitConditionOptions, WorkflowCancellationToken, WorkflowContext, workflows,
};

use super::{OPERATOR_CANCELLATION, OrderSaga, patches};
use crate::payloads::{Attempt, FailureDetails};
use crate::policies;

/// How an activity or a wait meets a Temporal cancellation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Forward steps before the capture: the request stops the step's retries, and the
    /// attempt in flight is waited for (`WaitCancellationCompleted`), so the saga knows
    /// what may have taken effect before it compensates. Activities do not heartbeat,
    /// so an attempt is never interrupted halfway.
    Cancellable,
    /// Out of the cancellation's reach: steps after the capture, compensations, events,
    /// alerts and the saga's own timers and waits.
    Shielded,
}

impl Scope {
    pub(super) fn activity(self, mut options: ActivityOptions) -> ActivityOptions {
        match self {
            Self::Cancellable => {
                options.cancellation_type = ActivityCancellationType::WaitCancellationCompleted;
            }
            Self::Shielded => options.cancellation_token = Some(WorkflowCancellationToken::new()),
        }
        options
    }
}

/// An activity the saga runs: it answers with the attempt that succeeded, for the
/// timeline.
pub(super) trait SagaActivity: ActivityDefinition<Output = Attempt> {}

impl<A: ActivityDefinition<Output = Attempt>> SagaActivity for A {}

/// A forward step, declared once in `forward`: its name, the scope its activities run
/// in, and their retry policy (`worker/src/policies.rs`). Its methods run those
/// activities and keep the timeline.
#[derive(Clone, Copy)]
pub(super) struct Step {
    name: StepName,
    scope: Scope,
    policy: fn() -> ActivityOptions,
}

impl Step {
    /// A step whose activities a cancellation request stops ([`Scope::Cancellable`]).
    const fn cancellable(name: StepName, policy: fn() -> ActivityOptions) -> Self {
        Self {
            name,
            scope: Scope::Cancellable,
            policy,
        }
    }

    /// A step the order recovers forward through, whatever is requested.
    const fn recovering(name: StepName, policy: fn() -> ActivityOptions) -> Self {
        Self::cancellable(name, policy).shielded()
    }

    /// The same step, out of the cancellation's reach from here on.
    pub(super) const fn shielded(self) -> Self {
        Self {
            scope: Scope::Shielded,
            ..self
        }
    }

    pub(super) fn begin(self, ctx: &WorkflowContext<OrderSaga>) {
        OrderSaga::begin(ctx, self.name);
    }

    pub(super) fn end(self, ctx: &WorkflowContext<OrderSaga>) {
        OrderSaga::end(ctx, self.name);
    }

    /// An activity that changes a service's state. From the moment it is scheduled its
    /// effect may exist (an attempt may succeed at the service and still time out here,
    /// then a later attempt be refused), so the step is compensated should the saga
    /// fail. Compensations of nothing are no-ops.
    pub(super) async fn effect<A: SagaActivity>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: A,
        input: impl Into<A::Input>,
    ) -> Result<(), Halt> {
        ctx.state_mut(|s| s.effects.push(self.name));
        let result = self.call(ctx, activity, input).await;
        if let Err(Halt { refused: true, .. }) = &result
            && !ctx.patched(patches::COMPENSATE_REFUSED_STEPS)
        {
            ctx.state_mut(|s| s.effects.retain(|e| *e != self.name));
        }
        result
    }

    /// An activity with nothing to compensate of its own (it moves what an earlier
    /// effect created, or only reports).
    pub(super) async fn call<A: SagaActivity>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: A,
        input: impl Into<A::Input>,
    ) -> Result<(), Halt> {
        OrderSaga::call(ctx, self.name, self.scope, activity, input, (self.policy)()).await
    }
}

/// A timer no cancellation reaches.
pub(super) fn shielded_timer(duration: Duration) -> TimerOptions {
    TimerOptions::builder(duration)
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// A `wait_condition` no cancellation reaches.
pub(super) fn shielded_wait() -> WaitConditionOptions {
    WaitConditionOptions::builder()
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

pub(super) fn step_key(step: StepName) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

// The forward steps, each declared once. Until the charge is captured a cancellation
// request stops the saga; from the confirmation on, the order recovers forward whatever
// is requested.
pub(super) const CREATE_ORDER: Step =
    Step::cancellable(StepName::CreateOrder, policies::create_order);
pub(super) const RESERVE_INVENTORY: Step =
    Step::cancellable(StepName::ReserveInventory, policies::reserve_inventory);
pub(super) const CHARGE_PAYMENT: Step =
    Step::cancellable(StepName::ChargePayment, policies::charge_payment);
pub(super) const CONFIRM_ORDER: Step =
    Step::recovering(StepName::ConfirmOrder, policies::confirm_order);
pub(super) const NOTIFY_CUSTOMER: Step =
    Step::recovering(StepName::NotifyCustomer, policies::final_notification);

/// Why the forward path stopped: a step failed for good, the customer decided, or a
/// cancellation was honoured. The saga compensates and ends with `reason`.
#[derive(Debug)]
pub(super) struct Halt {
    pub(super) reason: String,
    /// A step's service refused: that call had no effect, and repeating it cannot help.
    pub(super) refused: bool,
    /// The refusal's problem type, e.g. `out-of-stock`.
    pub(super) kind: Option<String>,
}

impl Halt {
    pub(super) fn because(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            refused: false,
            kind: None,
        }
    }

    /// What a checkout waiting on the reservation is told when the saga stops first.
    pub(super) fn reservation_outcome(&self) -> ReservationOutcome {
        ReservationOutcome {
            held: false,
            refusal: self.kind.clone(),
            reason: Some(self.reason.clone()),
        }
    }
}

/// What the workflow can read of an activity's final failure.
#[derive(Debug)]
struct FinalFailure {
    message: String,
    /// The service refused: the call had no effect and repeating it cannot help.
    refused: bool,
    /// The refusal's problem type, e.g. `out-of-stock`.
    kind: Option<String>,
    attempts: Option<u32>,
}

impl FinalFailure {
    fn from_execution(error: ActivityExecutionError) -> Self {
        match error.cause() {
            Some(IncomingError::Application(failure)) => Self {
                message: failure.to_string(),
                refused: failure.is_non_retryable(),
                kind: failure
                    .is_non_retryable()
                    .then(|| failure.type_name().map(str::to_owned))
                    .flatten(),
                attempts: failure
                    .details::<FailureDetails>()
                    .ok()
                    .flatten()
                    .map(|d| d.attempt),
            },
            Some(IncomingError::Timeout(timeout)) => Self {
                message: format!("timed out ({:?})", timeout.timeout_type()),
                refused: false,
                kind: None,
                attempts: None,
            },
            _ => Self {
                message: error.to_string(),
                refused: false,
                kind: None,
                attempts: None,
            },
        }
    }
}

impl OrderSaga {
    pub(super) fn begin(ctx: &WorkflowContext<Self>, step: StepName) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.start(step, &now));
    }

    pub(super) fn end(ctx: &WorkflowContext<Self>, step: StepName) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.complete(step, &now));
    }

    /// Runs one activity of `step` in `scope`, publishing the timeline's events while
    /// it runs. On failure the step is marked failed; a failure of a cancellable step
    /// once an operator asked to cancel is reported as that cancellation.
    pub(super) async fn call<A: SagaActivity>(
        ctx: &WorkflowContext<Self>,
        step: StepName,
        scope: Scope,
        activity: A,
        input: impl Into<A::Input>,
        options: ActivityOptions,
    ) -> Result<(), Halt> {
        // Earlier events first, so the feed stays in the order things happened.
        Self::publish_events(ctx).await;
        let mut running = ctx.execute_activity(activity, input, scope.activity(options));
        let outcome = loop {
            workflows::select! {
                outcome = running => break outcome,
                _ = ctx.wait_condition_with_options(
                    |s: &Self| s.timeline.has_unpublished(),
                    shielded_wait(),
                ) => {}
            };
            Self::publish_events(ctx).await;
        };
        let now = Self::now(ctx);
        match outcome {
            Ok(Attempt { attempt }) => {
                ctx.state_mut(|s| s.timeline.activity_succeeded(step, attempt));
                Ok(())
            }
            Err(error) => {
                let error = FinalFailure::from_execution(error);
                let by_operator =
                    scope == Scope::Cancellable && !error.refused && Self::operator_cancelled(ctx);
                let message = if by_operator {
                    OPERATOR_CANCELLATION.to_owned()
                } else {
                    error.message
                };
                ctx.state_mut(|s| s.timeline.fail(step, &now, error.attempts, &message));
                Err(Halt {
                    reason: if by_operator {
                        message
                    } else {
                        format!("{}: {message}", step.title())
                    },
                    refused: error.refused,
                    kind: if by_operator { None } else { error.kind },
                })
            }
        }
    }
}
