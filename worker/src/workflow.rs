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
//! the capture, every compensation, event, alert and timer runs [`Scope::Shielded`],
//! where no cancellation reaches. Every wait that can end on a cancellation is awaited
//! once and then left, so a cancelled wait can never be polled in a loop (a loop over a
//! future that is always ready never yields, and wedges the whole worker).
//!
//! Signals arrive from the gateway but also from operators and scripts, with any
//! payload: every handler takes its payload raw (see [`crate::inbound`]), so that a bad
//! one is noted in the timeline and dropped instead of failing the workflow task on
//! every replay.

use std::time::Duration;

use saga_contract::calls::OrderStatus;
use saga_contract::{Decision, Outcome, SagaInput, SagaPhase, SagaResult, SagaStatus, StepName};
use temporalio_common::ActivityDefinition;
use temporalio_common::data_converters::RawValue;
use temporalio_common::error::IncomingError;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, CancellableFuture,
    SyncWorkflowContext, TimerOptions, WaitConditionOptions, WorkflowCancellationToken,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflows,
};

use crate::activities::SagaActivities;
use crate::inbound;
use crate::payloads::{
    ATTEMPT_FAILED_SIGNAL, Attempt, AttemptFailure, CancelRequest, ChargeRequest, FailureDetails,
    NotificationRequest, ReserveRequest, StatusRequest,
};
use crate::policies;
use crate::timeline::Timeline;

/// The reason a saga gives when a Temporal cancellation request stops it.
pub const OPERATOR_CANCELLATION: &str = "cancelled by an operator";

/// Versions of the workflow's commands (see `ctx.patched`): sagas recorded before a
/// change replay the old way, new ones take the new.
mod patches {
    /// A step whose service refused it is compensated anyway: an earlier attempt of it
    /// may have taken effect (a charge whose answer was lost, then a refusal).
    pub const COMPENSATE_REFUSED_STEPS: &str = "compensate-refused-steps";
    /// A compensation retries through any failure, with a pause between rounds.
    pub const COMPENSATION_ROUND_PAUSE: &str = "compensation-round-pause";
}

/// How an activity or a wait meets a Temporal cancellation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
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
    fn activity(self, mut options: ActivityOptions) -> ActivityOptions {
        match self {
            Self::Cancellable => {
                options.cancellation_type = ActivityCancellationType::WaitCancellationCompleted;
            }
            Self::Shielded => options.cancellation_token = Some(WorkflowCancellationToken::new()),
        }
        options
    }
}

/// A forward step, declared once in `forward`: its name, the scope its activities run
/// in, and their retry policy (`worker/src/policies.rs`). Its methods run those
/// activities and keep the timeline.
#[derive(Clone, Copy)]
struct Step {
    name: StepName,
    scope: Scope,
    policy: fn() -> ActivityOptions,
}

impl Step {
    const fn new(name: StepName, scope: Scope, policy: fn() -> ActivityOptions) -> Self {
        Self {
            name,
            scope,
            policy,
        }
    }

    /// The same step, out of the cancellation's reach from here on.
    const fn shielded(self) -> Self {
        Self {
            scope: Scope::Shielded,
            ..self
        }
    }

    fn begin(self, ctx: &WorkflowContext<OrderSaga>) {
        OrderSaga::begin(ctx, self.name);
    }

    fn end(self, ctx: &WorkflowContext<OrderSaga>) {
        OrderSaga::end(ctx, self.name);
    }

    /// An activity whose effect the saga compensates should it fail.
    async fn effect<A>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: A,
        input: impl Into<A::Input>,
    ) -> Result<(), Halt>
    where
        A: ActivityDefinition<Output = Attempt>,
    {
        OrderSaga::effectful(ctx, self.name, self.scope, activity, input, (self.policy)()).await
    }

    /// An activity with nothing to compensate of its own (it moves what an earlier
    /// effect created, or only reports).
    async fn call<A>(
        self,
        ctx: &WorkflowContext<OrderSaga>,
        activity: A,
        input: impl Into<A::Input>,
    ) -> Result<(), Halt>
    where
        A: ActivityDefinition<Output = Attempt>,
    {
        OrderSaga::call(ctx, self.name, self.scope, activity, input, (self.policy)()).await
    }
}

/// A timer no cancellation reaches.
fn shielded_timer(duration: Duration) -> TimerOptions {
    TimerOptions::builder(duration)
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// A `wait_condition` no cancellation reaches.
fn shielded_wait() -> WaitConditionOptions {
    WaitConditionOptions::builder()
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApprovalDecision {
    Approved,
    Rejected(Option<String>),
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
}

/// Why the forward path stopped: a step failed for good, the customer decided, or a
/// cancellation was honoured. The saga compensates and ends with `reason`.
#[derive(Debug)]
struct Halt {
    reason: String,
    /// A step's service refused: that call had no effect, and repeating it cannot help.
    refused: bool,
}

impl Halt {
    fn because(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            refused: false,
        }
    }
}

/// What the workflow can read of an activity's final failure.
#[derive(Debug)]
struct FinalFailure {
    message: String,
    /// The service refused: the call had no effect and repeating it cannot help.
    refused: bool,
    attempts: Option<u32>,
}

impl FinalFailure {
    fn from_execution(error: ActivityExecutionError) -> Self {
        match error.cause() {
            Some(IncomingError::Application(failure)) => Self {
                message: failure.to_string(),
                refused: failure.is_non_retryable(),
                attempts: failure
                    .details::<FailureDetails>()
                    .ok()
                    .flatten()
                    .map(|d| d.attempt),
            },
            Some(IncomingError::Timeout(timeout)) => Self {
                message: format!("timed out ({:?})", timeout.timeout_type()),
                refused: false,
                attempts: None,
            },
            _ => Self {
                message: error.to_string(),
                refused: false,
                attempts: None,
            },
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
        ctx.state_mut(|s| {
            s.order_id = input.order_id.clone();
            s.customer_id = input.customer_id.clone();
            s.timeline = Timeline::new(&input.order_id, &input.customer_id, input.needs_approval());
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
                Self::compensate(ctx, &input, &abort.reason).await;
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

    /// Payload: none (or `null`).
    #[signal]
    pub fn approve(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<()>(ctx.payload_converter(), payload) {
            Some(()) => {
                self.approval.get_or_insert(ApprovalDecision::Approved);
            }
            None => self.ignore(ctx, saga_contract::APPROVE_SIGNAL),
        }
    }

    /// Payload: a [`Decision`].
    #[signal]
    pub fn reject(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<Decision>(ctx.payload_converter(), payload) {
            Some(decision) => {
                self.approval
                    .get_or_insert(ApprovalDecision::Rejected(decision.reason));
            }
            None => self.ignore(ctx, saga_contract::REJECT_SIGNAL),
        }
    }

    /// Payload: a [`Decision`]. Honoured until the charge starts; afterwards the order
    /// can only complete.
    #[signal]
    pub fn cancel(&mut self, ctx: &mut SyncWorkflowContext<Self>, payload: RawValue) {
        match inbound::decode::<Decision>(ctx.payload_converter(), payload) {
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
            Some(failure) => self
                .timeline
                .attempt_failed(failure.attempt, &failure.error),
            None => self.ignore(ctx, ATTEMPT_FAILED_SIGNAL),
        }
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

    async fn forward(ctx: &WorkflowContext<Self>, input: &SagaInput) -> Result<(), Halt> {
        use Scope::Cancellable;
        let order_id = &input.order_id;
        // Until the charge is captured, a cancellation request stops the saga.
        let create = Step::new(StepName::CreateOrder, Cancellable, policies::create_order);
        let reserve = Step::new(
            StepName::ReserveInventory,
            Cancellable,
            policies::reserve_inventory,
        );
        let charge = Step::new(
            StepName::ChargePayment,
            Cancellable,
            policies::charge_payment,
        );
        // Once captured, the order recovers forward, whatever is requested.
        let confirm = Step::new(
            StepName::ConfirmOrder,
            Scope::Shielded,
            policies::confirm_order,
        );
        let notify = Step::new(
            StepName::NotifyCustomer,
            Scope::Shielded,
            policies::final_notification,
        );

        create.begin(ctx);
        create
            .effect(ctx, SagaActivities::create_order, input.clone())
            .await?;
        create.end(ctx);
        Self::honour_cancellation(ctx)?;

        reserve.begin(ctx);
        let lines = ReserveRequest {
            order_id: order_id.clone(),
            lines: input.lines.clone(),
        };
        reserve
            .effect(ctx, SagaActivities::reserve_inventory, lines)
            .await?;
        let reserved = status_request(order_id, OrderStatus::Reserved);
        reserve
            .call(ctx, SagaActivities::set_order_status, reserved)
            .await?;
        reserve.end(ctx);
        Self::honour_cancellation(ctx)?;

        if input.needs_approval() {
            Self::await_approval(ctx, input).await?;
        }
        Self::honour_cancellation(ctx)?;

        ctx.state_mut(|s| s.payment_started = true);
        charge.begin(ctx);
        let payment = ChargeRequest {
            order_id: order_id.clone(),
            amount: input.total(),
            currency: input.currency.clone(),
            method: input.payment_method.clone(),
        };
        charge
            .effect(ctx, SagaActivities::charge_payment, payment)
            .await?;
        // A request that arrived while the charge was in flight is still honoured: the
        // charge is refunded.
        Self::honour_cancellation(ctx)?;
        let paid = status_request(order_id, OrderStatus::Paid);
        charge
            .shielded()
            .call(ctx, SagaActivities::set_order_status, paid)
            .await?;
        charge.end(ctx);

        confirm.begin(ctx);
        confirm
            .call(ctx, SagaActivities::commit_inventory, order_id.clone())
            .await?;
        let completed = status_request(order_id, OrderStatus::Completed);
        confirm
            .call(ctx, SagaActivities::set_order_status, completed)
            .await?;
        confirm.end(ctx);

        // The order is complete whatever happens to the notification; its step keeps
        // retrying (unlimited) and, should it be refused, the timeline shows why.
        notify.begin(ctx);
        let notification = Self::customer_notification(
            ctx,
            "order.completed",
            "Your order is complete",
            "Payment received and stock confirmed.".to_owned(),
        );
        if notify
            .call(ctx, SagaActivities::record_notification, notification)
            .await
            .is_ok()
        {
            notify.end(ctx);
        }
        Ok(())
    }

    /// Waits for the customer's decision on a large order, a cancellation (the
    /// customer's or an operator's), or the deadline, whichever comes first.
    async fn await_approval(ctx: &WorkflowContext<Self>, input: &SagaInput) -> Result<(), Halt> {
        let timeout = Duration::from_secs(input.approval.timeout_secs);
        let now = Self::now(ctx);
        let deadline = ctx
            .workflow_time()
            .map(|t| service_kit::clock::format_system_time(t + timeout))
            .unwrap_or_default();
        ctx.state_mut(|s| {
            s.timeline
                .await_approval(&now, &deadline, input.total(), &input.currency)
        });
        Self::publish_events(ctx).await;

        let mut deadline_timer = ctx.timer(shielded_timer(timeout));
        let decided = workflows::select! {
            _ = ctx.wait_condition_with_options(
                |s: &Self| s.approval.is_some() || s.cancel_requested.is_some(),
                shielded_wait(),
            ) => true,
            _ = ctx.cancelled() => true,
            _ = deadline_timer => false,
        };
        if decided {
            deadline_timer.cancel();
        }
        let (approval, cancelled) = ctx.state(|s| (s.approval.clone(), s.cancel_requested.clone()));
        let refusal = match (decided, cancelled, approval) {
            (false, _, _) => Some("approval timed out".to_owned()),
            (true, Some(reason), _) => Some(cancellation_reason(reason)),
            (true, None, _) if Self::operator_cancelled(ctx) => {
                Some(OPERATOR_CANCELLATION.to_owned())
            }
            (true, None, Some(ApprovalDecision::Rejected(reason))) => Some(match reason {
                Some(reason) => format!("rejected by the customer: {reason}"),
                None => "rejected by the customer".to_owned(),
            }),
            (true, None, _) => None,
        };
        let now = Self::now(ctx);
        ctx.state_mut(|s| {
            s.timeline.approval_settled();
            match &refusal {
                Some(reason) => s.timeline.fail(StepName::AwaitApproval, &now, None, reason),
                None => s.timeline.complete(StepName::AwaitApproval, &now),
            }
        });
        match refusal {
            Some(reason) => Err(Halt::because(reason)),
            None => Ok(()),
        }
    }

    /// A Temporal cancellation request has arrived (it is part of the history, so
    /// every replay sees it at the same point).
    fn operator_cancelled(ctx: &WorkflowContext<Self>) -> bool {
        ctx.cancellation_token().is_cancelled()
    }

    fn honour_cancellation(ctx: &WorkflowContext<Self>) -> Result<(), Halt> {
        if let Some(reason) = ctx.state(|s| s.cancel_requested.clone()) {
            return Err(Halt::because(cancellation_reason(reason)));
        }
        if Self::operator_cancelled(ctx) {
            return Err(Halt::because(OPERATOR_CANCELLATION.to_owned()));
        }
        Ok(())
    }

    /// Compensates, newest first, every forward step that may have taken effect, then
    /// tells the customer.
    async fn compensate(ctx: &WorkflowContext<Self>, input: &SagaInput, reason: &str) {
        ctx.state_mut(|s| s.timeline.start_compensating(reason));
        let effects = ctx.state(|s| s.effects.clone());
        let order_id = input.order_id.clone();
        if effects.contains(&StepName::ChargePayment) {
            Self::compensation(
                ctx,
                input,
                StepName::RefundPayment,
                || SagaActivities::refund_payment,
                order_id.clone(),
            )
            .await;
        }
        if effects.contains(&StepName::ReserveInventory) {
            Self::compensation(
                ctx,
                input,
                StepName::ReleaseInventory,
                || SagaActivities::release_inventory,
                order_id.clone(),
            )
            .await;
        }
        if effects.contains(&StepName::CreateOrder) {
            let cancel = CancelRequest {
                order_id: order_id.clone(),
                reason: reason.to_owned(),
            };
            Self::compensation(
                ctx,
                input,
                StepName::CancelOrder,
                || SagaActivities::cancel_order,
                cancel,
            )
            .await;
        }
        let notification = Self::customer_notification(
            ctx,
            "order.cancelled",
            "Your order was cancelled",
            reason.to_owned(),
        );
        Self::compensation(
            ctx,
            input,
            StepName::NotifyFailure,
            || SagaActivities::record_notification,
            notification,
        )
        .await;
        ctx.state_mut(|s| s.timeline.finish(SagaPhase::Cancelled));
    }

    /// Runs one compensating step until it succeeds, out of any cancellation's reach.
    /// A round that fails raises one admin alert ("compensation stuck"); after a pause,
    /// another round starts, whatever the failure was: a compensation that gives up
    /// leaves stock held or money taken.
    async fn compensation<A>(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        step: StepName,
        activity: impl Fn() -> A,
        request: A::Input,
    ) where
        A: ActivityDefinition<Output = Attempt>,
        A::Input: Clone,
    {
        Self::begin(ctx, step);
        let mut alerted = false;
        loop {
            match Self::call(
                ctx,
                step,
                Scope::Shielded,
                activity(),
                request.clone(),
                policies::compensation_round(),
            )
            .await
            {
                Ok(()) => {
                    Self::end(ctx, step);
                    return;
                }
                Err(failure) => {
                    let pause = ctx.patched(patches::COMPENSATION_ROUND_PAUSE);
                    // Before the patch, a refusal was alerted and given up on.
                    if !alerted || (failure.refused && !pause) {
                        Self::alert_admins(ctx, input, step, &failure.reason).await;
                        alerted = true;
                    }
                    if pause {
                        // However a round ends (even at once), the next one waits on a
                        // timer: the loop always yields to the server.
                        let _ = ctx
                            .timer(shielded_timer(policies::COMPENSATION_ROUND_PAUSE))
                            .await;
                    } else if failure.refused {
                        return;
                    }
                    // Another round: the step is running again.
                    Self::begin(ctx, step);
                }
            }
        }
    }

    async fn alert_admins(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
        step: StepName,
        error: &str,
    ) {
        let alert = NotificationRequest {
            user_id: saga_contract::ADMIN_USER.to_owned(),
            key: format!("{}.stuck.{}", input.order_id, step_key(step)),
            kind: "saga.compensation_stuck".to_owned(),
            title: format!(
                "Compensation stuck: {} of order {}",
                step.title(),
                input.order_id
            ),
            body: format!("Still retrying. Last error: {error}"),
            order_id: Some(input.order_id.clone()),
            data: serde_json::json!({"step": step, "error": error})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        // Best effort: the alert must not hold up the compensation itself.
        let _ = ctx
            .execute_activity(
                SagaActivities::record_notification,
                alert,
                Scope::Shielded.activity(policies::step_event()),
            )
            .await;
    }

    fn begin(ctx: &WorkflowContext<Self>, step: StepName) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.start(step, &now));
    }

    /// Runs the activity of `step` that changes a service's state. From the moment it
    /// is scheduled its effect may exist (an attempt may succeed at the service and
    /// still time out here, then a later attempt be refused), so the step is
    /// compensated should the saga fail. Compensations of nothing are no-ops.
    async fn effectful<A>(
        ctx: &WorkflowContext<Self>,
        step: StepName,
        scope: Scope,
        activity: A,
        input: impl Into<A::Input>,
        options: ActivityOptions,
    ) -> Result<(), Halt>
    where
        A: ActivityDefinition<Output = Attempt>,
    {
        ctx.state_mut(|s| s.effects.push(step));
        let result = Self::call(ctx, step, scope, activity, input, options).await;
        if let Err(Halt { refused: true, .. }) = &result
            && !ctx.patched(patches::COMPENSATE_REFUSED_STEPS)
        {
            ctx.state_mut(|s| s.effects.retain(|e| *e != step));
        }
        result
    }

    fn end(ctx: &WorkflowContext<Self>, step: StepName) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.timeline.complete(step, &now));
    }

    /// Runs one activity of `step` in `scope`, publishing the timeline's events while
    /// it runs. On failure the step is marked failed; a failure of a cancellable step
    /// once an operator asked to cancel is reported as that cancellation.
    async fn call<A>(
        ctx: &WorkflowContext<Self>,
        step: StepName,
        scope: Scope,
        activity: A,
        input: impl Into<A::Input>,
        options: ActivityOptions,
    ) -> Result<(), Halt>
    where
        A: ActivityDefinition<Output = Attempt>,
    {
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
                })
            }
        }
    }

    /// Records the timeline's new events in the customer's notification feed, in order.
    async fn publish_events(ctx: &WorkflowContext<Self>) {
        let (user_id, order_id, pending) = ctx.state(|s| {
            (
                s.customer_id.clone(),
                s.order_id.clone(),
                s.timeline.unpublished(),
            )
        });
        for (seq, event) in pending {
            let request = NotificationRequest {
                user_id: user_id.clone(),
                key: format!("{order_id}.e{seq}"),
                kind: event.kind,
                title: event.title,
                body: String::new(),
                order_id: Some(order_id.clone()),
                data: event.data,
            };
            // Best effort (bounded retries): progress events must not stall the saga.
            let _ = ctx
                .execute_activity(
                    SagaActivities::record_notification,
                    request,
                    Scope::Shielded.activity(policies::step_event()),
                )
                .await;
            ctx.state_mut(|s| s.timeline.mark_published(seq));
        }
    }

    fn customer_notification(
        ctx: &WorkflowContext<Self>,
        kind: &str,
        title: &str,
        body: String,
    ) -> NotificationRequest {
        let (user_id, order_id) = ctx.state(|s| (s.customer_id.clone(), s.order_id.clone()));
        NotificationRequest {
            user_id,
            key: format!("{order_id}.{kind}"),
            kind: kind.to_owned(),
            title: title.to_owned(),
            body,
            order_id: Some(order_id),
            data: Default::default(),
        }
    }

    /// Workflow time: deterministic, the same on every replay.
    fn now(ctx: &WorkflowContext<Self>) -> String {
        ctx.workflow_time()
            .map(service_kit::clock::format_system_time)
            .unwrap_or_default()
    }
}

fn status_request(order_id: &str, status: OrderStatus) -> StatusRequest {
    StatusRequest {
        order_id: order_id.to_owned(),
        status,
    }
}

fn cancellation_reason(reason: Option<String>) -> String {
    match reason {
        Some(reason) => format!("cancelled by the customer: {reason}"),
        None => "cancelled by the customer".to_owned(),
    }
}

fn step_key(step: StepName) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use saga_contract::temporal;
    use temporalio_common::{QueryDefinition, SignalDefinition, WorkflowDefinition};

    use super::*;

    /// Callers use the contract's definitions: they must name what the worker runs.
    #[test]
    fn the_contract_names_the_registered_workflow_signals_and_query() {
        assert_eq!(OrderSaga::run.name(), temporal::OrderSaga.name());
        assert_eq!(OrderSaga::approve.name(), temporal::Approve.name());
        assert_eq!(OrderSaga::reject.name(), temporal::Reject.name());
        assert_eq!(OrderSaga::cancel.name(), temporal::Cancel.name());
        assert_eq!(OrderSaga::status.name(), temporal::Status.name());
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
}
