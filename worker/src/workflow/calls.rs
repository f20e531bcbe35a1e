//! How the saga runs one call of a step: locally or on the task queue, in which
//! cancellation scope, and how its outcome reaches the timeline and the compensation
//! list.
//!
//! A local call ([`Execution::Local`]) runs inside the workflow task: no activity task,
//! no history events but one marker, and all the local calls of one task are one
//! billable action. It first tries a few times, briefly (`policies.rs`); if it has not
//! succeeded by then (a service down or slow), the same call goes on as a regular
//! activity with the step's whole retry policy, which rides out a long outage without
//! holding a workflow task open. A business refusal or an honoured cancellation ends it
//! at once, whichever way it ran.

use std::future::Future;

use futures::FutureExt;
use futures::future::{Fuse, FusedFuture};
use saga_contract::{Refusal, ReservationOutcome, SagaOutcome, StepName};
use temporalio_common::ActivityDefinition;
use temporalio_common::data_converters::RawValue;
use temporalio_common::error::IncomingError;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::protos::temporal::api::failure::v1::{ApplicationFailureInfo, Failure};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, LocalActivityOptions,
    TimerOptions, WaitConditionOptions, WorkflowCancellationToken, WorkflowContext, workflows,
};

use super::{OPERATOR_CANCELLATION, OrderSaga, Version, patches};
use crate::inbound;
use crate::payloads::{Attempt, FailureDetails};
use crate::policies::Policy;

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

    pub(super) fn local(self, mut options: LocalActivityOptions) -> LocalActivityOptions {
        match self {
            Self::Cancellable => {
                options.cancel_type = ActivityCancellationType::WaitCancellationCompleted;
            }
            Self::Shielded => options.cancellation_token = Some(WorkflowCancellationToken::new()),
        }
        options
    }
}

/// Where a step's calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Execution {
    /// Inside the workflow task first (see the module documentation).
    Local,
    /// On the task queue, with Temporal's timeouts and retries from the start: for a
    /// call that can take long, like a payment provider's.
    Remote,
}

/// An activity the saga runs: it answers with the attempt that succeeded, for the
/// timeline.
pub(super) trait SagaActivity: ActivityDefinition<Output = Attempt> {}

impl<A: ActivityDefinition<Output = Attempt>> SagaActivity for A {}

/// One call: its step, how it runs, and its policy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    pub(super) step: StepName,
    /// The activity the step table declares for the step's effect.
    pub(super) effect: Option<&'static str>,
    pub(super) scope: Scope,
    pub(super) execution: Execution,
    pub(super) policy: Policy,
}

impl Call {
    /// The same call, out of the cancellation's reach.
    pub(super) const fn shielded(self) -> Self {
        Self {
            scope: Scope::Shielded,
            ..self
        }
    }

    /// A call that changes a service's state. From the moment it is scheduled its
    /// effect may exist (an attempt may succeed at the service and still time out here,
    /// then a later attempt be refused), so the step is compensated should the saga
    /// fail. Compensations of nothing are no-ops.
    pub(super) async fn effect<A>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: impl Fn() -> A,
        input: A::Input,
    ) -> Result<Attempt, Halt>
    where
        A: SagaActivity,
        A::Input: Clone,
    {
        debug_assert_eq!(
            Some(activity().name()),
            self.effect,
            "steps.rs declares another activity for {:?}",
            self.step
        );
        ctx.state_mut(|s| s.effects.push(self.step));
        let result = self.run(ctx, activity, input).await;
        if let Err(Halt { refused: true, .. }) = &result
            && !ctx.patched(patches::COMPENSATE_REFUSED_STEPS)
        {
            ctx.state_mut(|s| s.effects.retain(|e| *e != self.step));
        }
        result
    }

    /// Runs the call, publishing the timeline's events while it runs. On failure the
    /// step is marked failed; a failure of a cancellable step once an operator asked
    /// to cancel is reported as that cancellation. Answers the attempt that succeeded.
    pub(super) async fn run<A>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: impl Fn() -> A,
        input: A::Input,
    ) -> Result<Attempt, Halt>
    where
        A: SagaActivity,
        A::Input: Clone,
    {
        let version = ctx.state(|s| s.version);
        let cancellable = self.scope == Scope::Cancellable;
        if cancellable {
            OrderSaga::note_cancellation(ctx);
        }
        let outcome = match (version, self.execution) {
            (Version::LocalSteps, Execution::Local) => {
                let options = self.scope.local(self.policy.local());
                let local = ctx.execute_local_activity(activity(), input.clone(), options);
                match OrderSaga::watching(ctx, local, cancellable).await {
                    Err(error) if !self.is_final(ctx, &error) => {
                        self.go_remote(ctx, activity().name(), &error);
                        self.remote(ctx, activity(), input).await
                    }
                    outcome => outcome,
                }
            }
            (Version::LocalSteps, Execution::Remote) => self.remote(ctx, activity(), input).await,
            // Before local steps, every event was recorded before the next call.
            (Version::Remote, _) => {
                OrderSaga::publish_events(ctx).await;
                self.remote(ctx, activity(), input).await
            }
        };
        let settled = self.settle(ctx, outcome);
        ctx.state_mut(|s| s.attempt_offset = 0);
        settled
    }

    async fn remote<A: SagaActivity>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: A,
        input: A::Input,
    ) -> Result<Attempt, ActivityExecutionError> {
        let options = self.scope.activity(self.policy.activity());
        let cancellable = self.scope == Scope::Cancellable;
        OrderSaga::watching(
            ctx,
            ctx.execute_activity(activity, input, options),
            cancellable,
        )
        .await
    }

    /// Whether a failed local phase ends the step: a refusal, or a cancellation of a
    /// cancellable step that was honoured.
    fn is_final(self, ctx: &WorkflowContext<OrderSaga>, error: &ActivityExecutionError) -> bool {
        let failure = FinalFailure::from_execution(ctx, error);
        failure.refused || (self.scope == Scope::Cancellable && OrderSaga::operator_cancelled(ctx))
    }

    /// The local phase failed without a final answer: the attempts it made show on the
    /// timeline before those of the regular activity, which start again from one.
    fn go_remote(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: &str,
        error: &ActivityExecutionError,
    ) {
        let failure = FinalFailure::from_execution(ctx, error);
        if !ctx.is_replaying() {
            tracing::warn!(
                workflow_id = ctx.workflow_id(),
                step = self.step.as_str(),
                activity,
                error = %failure.message,
                "a local call did not succeed in its local phase; going on as a regular activity"
            );
        }
        let message = format!("{} (going on as a regular activity)", failure.message);
        let tried = failure.attempts.unwrap_or(1);
        ctx.state_mut(|s| {
            s.timeline.attempt_failed(tried, &message);
            s.attempt_offset = tried;
        });
    }

    fn settle(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        outcome: Result<Attempt, ActivityExecutionError>,
    ) -> Result<Attempt, Halt> {
        let step = self.step;
        let offset = ctx.state(|s| s.attempt_offset);
        match outcome {
            Ok(attempt) => {
                ctx.state_mut(|s| {
                    s.timeline
                        .activity_succeeded(step, offset + attempt.attempt)
                });
                Ok(attempt)
            }
            Err(error) => {
                let error = FinalFailure::from_execution(ctx, &error);
                let by_operator = self.scope == Scope::Cancellable
                    && !error.refused
                    && OrderSaga::operator_cancelled(ctx);
                let message = if by_operator {
                    OPERATOR_CANCELLATION.to_owned()
                } else {
                    error.message
                };
                let now = OrderSaga::now(ctx);
                let attempts = error.attempts.map(|a| offset + a);
                ctx.state_mut(|s| s.timeline.fail(step, &now, attempts, &message));
                Err(Halt {
                    reason: if by_operator {
                        message
                    } else {
                        format!("{}: {message}", step.title())
                    },
                    refused: error.refused,
                    kind: if by_operator { None } else { error.kind },
                    decided: by_operator,
                })
            }
        }
    }
}

impl OrderSaga {
    /// Awaits `call`, recording the timeline's events in the customer's feed whenever
    /// there are some to record while it runs (a retry reported by the activity), and,
    /// for a `cancellable` call, taking note of an operator's cancellation that arrives
    /// while it runs (once: the wait is then left, see `workflow.rs`). The call comes
    /// first: a cancellation learnt together with the call's outcome is not noted.
    async fn watching<F>(
        ctx: &WorkflowContext<Self>,
        mut call: F,
        cancellable: bool,
    ) -> Result<Attempt, ActivityExecutionError>
    where
        F: Future<Output = Result<Attempt, ActivityExecutionError>> + FusedFuture + Unpin,
    {
        let mut cancelled = if cancellable {
            ctx.cancelled().boxed_local().fuse()
        } else {
            Fuse::terminated()
        };
        loop {
            workflows::select! {
                outcome = call => return outcome,
                _ = cancelled => {
                    if ctx.state(|s| s.version) == Version::LocalSteps {
                        ctx.state_mut(|s| s.cancel_noted = true);
                    }
                    continue;
                }
                _ = ctx.wait_condition_with_options(
                    |s: &Self| s.has_events_to_publish(),
                    shielded_wait(),
                ) => {}
            };
            Self::publish_events(ctx).await;
        }
    }
}

/// A side call's local options: shielded, within its policy's local phase.
pub(super) fn shielded_local(policy: Policy) -> LocalActivityOptions {
    Scope::Shielded.local(policy.local())
}

/// A timer no cancellation reaches.
pub(super) fn shielded_timer(duration: std::time::Duration) -> TimerOptions {
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

/// Why the forward path stopped: a step failed for good, the customer decided, or a
/// cancellation was honoured. The saga compensates and ends with `reason`.
#[derive(Debug)]
pub(super) struct Halt {
    pub(super) reason: String,
    /// A step's service refused: that call had no effect, and repeating it cannot help.
    pub(super) refused: bool,
    /// The refusal, e.g. out of stock.
    pub(super) kind: Option<Refusal>,
    /// A person decided (a cancellation, a rejection) or the review's deadline passed,
    /// rather than a step failing.
    pub(super) decided: bool,
}

impl Halt {
    /// A decision (or the review's deadline) stops the saga.
    pub(super) fn because(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            refused: false,
            kind: None,
            decided: true,
        }
    }

    /// How the saga ends once it has compensated for this.
    pub(super) fn outcome(&self) -> SagaOutcome {
        SagaOutcome::compensated(self.kind, self.decided)
    }

    /// What a checkout waiting on the reservation is told when the saga stops first.
    pub(super) fn reservation_outcome(&self) -> ReservationOutcome {
        ReservationOutcome {
            held: false,
            refusal: self.kind,
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
    /// The refusal, e.g. out of stock.
    kind: Option<Refusal>,
    attempts: Option<u32>,
}

impl FinalFailure {
    fn from_execution(ctx: &WorkflowContext<OrderSaga>, error: &ActivityExecutionError) -> Self {
        match error.cause() {
            Some(IncomingError::Application(failure)) => Self {
                message: failure.to_string(),
                refused: failure.is_non_retryable(),
                kind: failure
                    .is_non_retryable()
                    .then(|| failure.type_name().and_then(Refusal::from_slug))
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
            // A local activity's failure is the application failure itself, not an
            // activity failure that wraps it as a remote activity's is (temporalio-sdk
            // 1.1.1): read it from the failure.
            None => match error.failure().and_then(Self::application) {
                Some((message, info)) => Self {
                    message: message.to_owned(),
                    refused: info.non_retryable,
                    kind: info
                        .non_retryable
                        .then(|| Refusal::from_slug(&info.r#type))
                        .flatten(),
                    attempts: info.details.as_ref().and_then(|details| {
                        let details = RawValue::new(details.payloads.clone());
                        inbound::decode::<FailureDetails>(ctx.payload_converter(), details)
                            .map(|d| d.attempt)
                    }),
                },
                None => Self::other(error),
            },
            _ => Self::other(error),
        }
    }

    fn application(failure: &Failure) -> Option<(&str, &ApplicationFailureInfo)> {
        match &failure.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => Some((&failure.message, info)),
            _ => None,
        }
    }

    fn other(error: &ActivityExecutionError) -> Self {
        Self {
            message: error.to_string(),
            refused: false,
            kind: None,
            attempts: None,
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
}
