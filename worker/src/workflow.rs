//! The OrderSaga workflow: create the order, reserve stock, (wait for approval), charge,
//! confirm, notify; on failure, compensate what may have taken effect, in reverse.
//!
//! Workflow code must replay identically from history: it uses only the SDK's timers,
//! `select!`, `wait_condition` and workflow time, never the clock, randomness, I/O or
//! tokio primitives. All I/O happens in activities.
//!
//! A Temporal cancellation request (the Web UI's Cancel button, `temporal workflow
//! cancel`) is honoured like the customer's cancel, until the charge is captured: the
//! forward steps before the capture run in the workflow's cancellation scope, where a
//! request stops their retries and waits for the attempt in flight; everything after
//! the capture, every compensation, event, alert and timer runs `Scope::Shielded` (`steps.rs`),
//! where no cancellation reaches. Every wait that can end on a cancellation is awaited
//! once and then left, so a cancelled wait can never be polled in a loop (a loop over a
//! future that is always ready never yields, and wedges the whole worker).
//!
//! Signals arrive from the gateway but also from operators and scripts, with any
//! payload: every handler takes its payload raw (see [`crate::inbound`]), so that a bad
//! one is noted in the timeline and dropped instead of failing the workflow task on
//! every replay.
//!
//! Here: the workflow, its signals, updates and query. The parts it calls: `steps` (the
//! step table), `forward` (what each step does), `calls` (running one call, locally or
//! on the task queue), `approval`, `decisions`, `compensation`, `attention` and
//! `events`.

use saga_contract::{
    Decision, OUTCOME_SEARCH_ATTRIBUTE, OrderDecision, Outcome, ReservationOutcome, SagaInput,
    SagaOutcome, SagaPhase, SagaResult, SagaStatus, StepName,
};
use temporalio_common::data_converters::RawValue;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

use crate::inbound;
use crate::payloads::{ATTEMPT_FAILED_SIGNAL, AttemptFailure};
use crate::timeline::Timeline;

mod approval;
mod attention;
mod calls;
mod compensation;
mod decisions;
mod events;
mod forward;
mod steps;

use calls::{Halt, shielded_wait};

/// The reason a saga gives when a Temporal cancellation request stops it.
pub const OPERATOR_CANCELLATION: &str = "cancelled by an operator";

/// Why a compensated saga ended, for visibility (see [`OrderSaga::mark_outcome`]).
const OUTCOME: SearchAttributeKey<String> = SearchAttributeKey::keyword(OUTCOME_SEARCH_ATTRIBUTE);

/// Versions of the workflow's commands (see `ctx.patched`): sagas recorded before a
/// change replay the old way, new ones take the new.
mod patches {
    /// Short steps run as local activities, the feed gets live events only, and the
    /// order passes through PAID when it completes ([`super::Version::LocalSteps`]).
    pub const LOCAL_STEPS: &str = "local-steps";
    /// A step whose service refused it is compensated anyway: an earlier attempt of it
    /// may have taken effect (a charge whose answer was lost, then a refusal).
    pub const COMPENSATE_REFUSED_STEPS: &str = "compensate-refused-steps";
    /// A compensation retries through any failure, with a pause between rounds.
    pub const COMPENSATION_ROUND_PAUSE: &str = "compensation-round-pause";
    /// The saga keeps the `SagaPhase` search attribute current while it awaits review.
    pub const PHASE_SEARCH_ATTRIBUTE: &str = "phase-search-attribute";
    /// The saga sets the `SagaAttention` search attribute while a compensation is stuck.
    pub const ATTENTION_SEARCH_ATTRIBUTE: &str = "attention-search-attribute";
    /// A review must name its reviewer, never the order's customer; the `approve` and
    /// `reject` signals, which name nobody and skip the `decide` validator, are noted
    /// and ignored ([`super::OrderSaga::signed_reviews`]).
    pub const SIGNED_REVIEWS: &str = "signed-reviews";
    /// The `cancel` signal names nobody either: anyone who reaches Temporal could
    /// cancel any order before its charge. The customer's cancellation is the `decide`
    /// update, which names them; the signal is noted and ignored.
    pub const SIGNED_CANCELLATIONS: &str = "signed-cancellations";
    /// A compensated saga sets the `SagaOutcome` search attribute as it ends.
    pub const OUTCOME_SEARCH_ATTRIBUTE: &str = "outcome-search-attribute";
}

/// How a saga runs its steps, decided once when it starts and kept for every replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Version {
    /// Sagas started before [`patches::LOCAL_STEPS`]: every call an activity on the
    /// task queue, every timeline event recorded in the feed, PAID its own write.
    #[default]
    Remote,
    /// The steps' table decides where each runs (`steps.rs`).
    LocalSteps,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApprovalDecision {
    Approved,
    /// By the customer's `reject` signal (sagas started before reviews).
    Rejected(Option<String>),
    /// By a reviewer's `decide` update.
    RejectedInReview(Option<String>),
}

#[workflow]
#[derive(Default)]
pub struct OrderSaga {
    order_id: String,
    customer_id: String,
    timeline: Timeline,
    approval: Option<ApprovalDecision>,
    cancel_requested: Option<Option<String>>,
    /// Once the charge is under way a cancellation can no longer be honoured.
    payment_started: bool,
    /// Forward steps that may have taken effect, so need compensating on failure.
    effects: Vec<StepName>,
    /// Once the reservation step has ended (or the saga stopped before it).
    reservation: Option<ReservationOutcome>,
    /// An operator asked to retry a stuck step now.
    retry_now: bool,
    version: Version,
    /// Attempts a step made locally before it went on as a regular activity, whose
    /// attempts count from one again.
    attempt_offset: u32,
    /// An operator's cancellation the saga has taken note of (see `decisions.rs`).
    cancel_noted: bool,
    /// The total of the customer's other open orders when this one was created: with
    /// the order's own, it decides whether the order is reviewed.
    open_elsewhere: u64,
    /// The order was paid before this run (a reset saga): its review is behind it.
    paid_before: bool,
    /// Under [`patches::SIGNED_REVIEWS`]: only a `decide` update that names a reviewer
    /// other than the customer approves or rejects. Sagas started before it still take
    /// the old signals and unsigned decisions, as their histories recorded.
    signed_reviews: bool,
}

impl OrderSaga {
    /// Sets the `SagaOutcome` search attribute of a compensated saga, which the
    /// operations page counts by cause (sagas started before it replay without it). A
    /// saga that completes sets none: an upsert is a billed action on Temporal Cloud,
    /// and the happy path stays at five.
    fn mark_outcome(ctx: &WorkflowContext<Self>, outcome: SagaOutcome) {
        if ctx.patched(patches::OUTCOME_SEARCH_ATTRIBUTE) {
            ctx.upsert_search_attributes([OUTCOME.value_set(outcome.as_str().to_owned())]);
        }
    }
}

#[workflow_methods]
impl OrderSaga {
    #[run(name = "OrderSaga")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: SagaInput,
    ) -> WorkflowResult<SagaResult> {
        let version = if ctx.patched(patches::LOCAL_STEPS) {
            Version::LocalSteps
        } else {
            Version::Remote
        };
        let signed_reviews = ctx.patched(patches::SIGNED_REVIEWS);
        let steps = steps::FORWARD.iter().map(|step| step.name);
        ctx.state_mut(|s| {
            s.version = version;
            s.signed_reviews = signed_reviews;
            s.order_id = input.order_id.clone();
            s.customer_id = input.customer_id.clone();
            let earlier = std::mem::replace(
                &mut s.timeline,
                Timeline::new(&input.order_id, &input.customer_id, steps),
            );
            s.timeline.keep_notes(earlier);
            if !input.needs_approval() {
                s.timeline.skip(StepName::AwaitApproval);
            }
        });
        let result = match Self::forward(ctx, &input).await {
            Ok(()) => {
                ctx.state_mut(|s| s.timeline.finish(SagaPhase::Completed));
                SagaResult {
                    order_id: input.order_id.clone(),
                    outcome: Outcome::Completed,
                    reason: None,
                }
            }
            Err(abort) => {
                ctx.state_mut(|s| {
                    s.reservation
                        .get_or_insert_with(|| abort.reservation_outcome());
                });
                Self::compensate(ctx, &input, &abort.reason).await;
                Self::mark_outcome(ctx, abort.outcome());
                SagaResult {
                    order_id: input.order_id.clone(),
                    outcome: Outcome::Cancelled,
                    reason: Some(abort.reason),
                }
            }
        };
        Self::publish_events(ctx).await;
        Ok(result)
    }

    /// Payload: none (or `null`). Only sagas started before signed reviews take it.
    #[signal]
    pub fn approve(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<()>(ctx.payload_converter(), payload) {
            Some(())
                if self.drops_unsigned(
                    ctx,
                    saga_contract::APPROVE_SIGNAL,
                    patches::SIGNED_REVIEWS,
                ) => {}
            Some(()) => {
                self.approval.get_or_insert(ApprovalDecision::Approved);
            }
            None => self.ignore(ctx, saga_contract::APPROVE_SIGNAL),
        }
    }

    /// Payload: a [`Decision`]. Only sagas started before signed reviews take it.
    #[signal]
    pub fn reject(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<Decision>(ctx.payload_converter(), payload) {
            Some(_)
                if self.drops_unsigned(
                    ctx,
                    saga_contract::REJECT_SIGNAL,
                    patches::SIGNED_REVIEWS,
                ) => {}
            Some(decision) => {
                self.approval
                    .get_or_insert(ApprovalDecision::Rejected(decision.reason));
            }
            None => self.ignore(ctx, saga_contract::REJECT_SIGNAL),
        }
    }

    /// Payload: a [`Decision`]. Only sagas started before signed cancellations take it,
    /// until the charge starts; afterwards the order can only complete.
    #[signal]
    pub fn cancel(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<Decision>(ctx.payload_converter(), payload) {
            Some(_)
                if self.drops_unsigned(
                    ctx,
                    saga_contract::CANCEL_SIGNAL,
                    patches::SIGNED_CANCELLATIONS,
                ) => {}
            Some(decision) if !self.payment_started => {
                self.cancel_requested.get_or_insert(decision.reason);
            }
            Some(_) => self
                .timeline
                .note("ignored: cancel after the charge started"),
            None => self.ignore(ctx, saga_contract::CANCEL_SIGNAL),
        }
    }

    /// Payload: an [`AttemptFailure`], sent by the saga's own activities.
    #[signal(name = "attempt_failed")]
    pub fn attempt_failed(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<AttemptFailure>(ctx.payload_converter(), payload) {
            Some(failure) => {
                let offset = if failure.local {
                    0
                } else {
                    self.attempt_offset
                };
                self.timeline
                    .attempt_failed(offset + failure.attempt, &failure.error);
            }
            None => self.ignore(ctx, ATTEMPT_FAILED_SIGNAL),
        }
    }

    #[update_validator(decide)]
    fn validate_decide(
        &self,
        _ctx: &WorkflowContextView,
        decision: &OrderDecision,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match self.refusal(decision) {
            Some(reason) => Err(reason.into()),
            None => Ok(()),
        }
    }

    /// A reviewer's approval or rejection, or the customer's cancellation (see
    /// `decisions.rs`); answers the status with the decision applied.
    #[update(name = "decide")]
    pub fn decide(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        decision: OrderDecision,
    ) -> SagaStatus {
        let now = ctx
            .workflow_time()
            .map(service_kit::clock::format_system_time)
            .unwrap_or_default();
        self.apply(&now, decision)
    }

    #[update_validator(retry_now)]
    fn validate_retry_now(
        &self,
        _ctx: &WorkflowContextView,
        _input: &(),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.retry_refusal()
            .map_or(Ok(()), |reason| Err(reason.into()))
    }

    /// An operator's "retry now" for a stuck saga (see `attention.rs`).
    #[update(name = "retry_now")]
    pub fn retry_now(&mut self, _ctx: &mut SyncWorkflowContext<Self>) -> SagaStatus {
        self.retry_now = true;
        self.timeline.snapshot()
    }

    /// Answers once the reservation step has an outcome: the checkout's Update-with-Start.
    #[update(name = "reservation")]
    pub async fn reservation(ctx: &mut WorkflowContext<Self>) -> ReservationOutcome {
        let _ = ctx
            .wait_condition_with_options(|s: &Self| s.reservation.is_some(), shielded_wait())
            .await;
        ctx.state(|s| s.reservation.clone()).unwrap_or_default()
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> SagaStatus {
        self.timeline.snapshot()
    }
}

/// Every signal the saga handles; others are dropped (and logged by the task monitor).
pub const SIGNALS: &[&str] = &[
    saga_contract::APPROVE_SIGNAL,
    saga_contract::REJECT_SIGNAL,
    saga_contract::CANCEL_SIGNAL,
    ATTEMPT_FAILED_SIGNAL,
];

impl OrderSaga {
    /// Drops a signal whose payload does not decode, noting it in the timeline.
    fn ignore(&mut self, ctx: &SyncWorkflowContext<Self>, signal: &str) {
        if !ctx.is_replaying() {
            tracing::warn!(
                workflow_id = ctx.workflow_id(),
                signal,
                "ignored a signal whose payload does not decode"
            );
        }
        self.timeline
            .note(&format!("ignored: invalid {signal} payload"));
    }

    /// Whether a decision `signal` is dropped: anyone who reaches Temporal can send one,
    /// and it names nobody, so since `patch` ([`patches::SIGNED_REVIEWS`] for reviews,
    /// [`patches::SIGNED_CANCELLATIONS`] for cancellations) it is noted and ignored.
    /// The patch is asked here, in the handler, because a signal can arrive in the
    /// saga's first activation, before `run` has run.
    fn drops_unsigned(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        signal: &str,
        patch: &str,
    ) -> bool {
        if !ctx.patched(patch) {
            return false;
        }
        if !ctx.is_replaying() {
            tracing::warn!(
                workflow_id = ctx.workflow_id(),
                signal,
                "ignored a decision signal: decisions are the decide update, naming who decides"
            );
        }
        let decisions = if patch == patches::SIGNED_CANCELLATIONS {
            "cancellations"
        } else {
            "reviews"
        };
        self.timeline.note(&format!(
            "ignored: {signal} signal, {decisions} are the decide update"
        ));
        true
    }

    /// Workflow time: deterministic, the same on every replay.
    fn now(ctx: &WorkflowContext<Self>) -> String {
        ctx.workflow_time()
            .map(service_kit::clock::format_system_time)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
