//! The saga's timeline: what the `status` query returns and what the customer's event
//! feed is made of. Pure state, changed only by the workflow (deterministically) and by
//! its signal handlers.

use saga_contract::{
    Attention, AttentionReason, Decider, EventKind, SagaPhase, SagaStatus, StepName, StepRecord,
    StepStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// An event to record in the customer's notification feed, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaEvent {
    pub kind: EventKind,
    pub title: String,
    pub data: Map<String, Value>,
    /// What the event is, the same in every run of the saga (a reset's included): the
    /// feed records one notification per order and key.
    pub key: String,
    /// The customer would otherwise be left without news: a retry, a review.
    pub live: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    order_id: String,
    customer_id: String,
    phase: Option<SagaPhase>,
    steps: Vec<StepRecord>,
    approval_deadline: Option<String>,
    cancel_reason: Option<String>,
    cancel_requested: bool,
    attention: Option<Attention>,
    notes: Vec<String>,
    events: Vec<SagaEvent>,
    published: usize,
}

/// How many notes the timeline keeps: a script sending bad signals in a loop must not
/// grow the workflow's state without bound.
const MAX_NOTES: usize = 20;

impl Timeline {
    /// A timeline with the forward `steps` pending, in order.
    pub fn new(
        order_id: &str,
        customer_id: &str,
        steps: impl IntoIterator<Item = StepName>,
    ) -> Self {
        let steps = steps.into_iter().map(pending_step).collect();
        Self {
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            phase: Some(SagaPhase::Running),
            steps,
            ..Self::default()
        }
    }

    /// Takes over the notes of `earlier`: what the saga set aside before its timeline
    /// was made (a signal sent with the saga's start is handled before its code runs).
    pub fn keep_notes(&mut self, earlier: Timeline) {
        let mut notes = earlier.notes;
        notes.append(&mut self.notes);
        self.notes = notes;
    }

    /// A step this order does not need (e.g. no review below the threshold).
    pub fn skip(&mut self, name: StepName) {
        self.step_mut(name).status = StepStatus::Skipped;
    }

    /// The steps that ran or are running, in order, but the notification steps: what
    /// the final notification (itself one of those) says.
    pub fn ran(&self) -> Vec<StepRecord> {
        self.steps
            .iter()
            .filter(|s| !matches!(s.status, StepStatus::Pending | StepStatus::Skipped))
            .filter(|s| !matches!(s.name, StepName::NotifyCustomer | StepName::NotifyFailure))
            .cloned()
            .collect()
    }

    pub fn snapshot(&self) -> SagaStatus {
        let current_step = self
            .steps
            .iter()
            .rev()
            .find(|s| {
                matches!(
                    s.status,
                    StepStatus::Running | StepStatus::Retrying | StepStatus::Waiting
                )
            })
            .map(|s| s.name);
        SagaStatus {
            order_id: self.order_id.clone(),
            customer_id: self.customer_id.clone(),
            phase: self.phase.unwrap_or(SagaPhase::Running),
            current_step,
            steps: self.steps.clone(),
            approval_deadline: self.approval_deadline.clone(),
            cancel_reason: self.cancel_reason.clone(),
            cancel_requested: self.cancel_requested,
            attention: self.attention.clone(),
            notes: self.notes.clone(),
        }
    }

    /// Notes something the saga set aside (shown in the status, not sent to the
    /// customer); only the last [`MAX_NOTES`] are kept.
    pub fn note(&mut self, note: &str) {
        if self.notes.len() == MAX_NOTES {
            self.notes.remove(0);
        }
        self.notes.push(note.to_owned());
    }

    pub fn current_step(&self) -> Option<StepName> {
        self.snapshot().current_step
    }

    fn step_mut(&mut self, name: StepName) -> &mut StepRecord {
        let index = match self.steps.iter().rposition(|s| s.name == name) {
            Some(index) => index,
            None => {
                // Compensation steps join the timeline when compensation starts.
                self.steps.push(pending_step(name));
                self.steps.len() - 1
            }
        };
        &mut self.steps[index]
    }

    pub fn step(&self, name: StepName) -> Option<&StepRecord> {
        self.steps.iter().rev().find(|s| s.name == name)
    }

    pub fn start(&mut self, name: StepName, at: &str) {
        let step = self.step_mut(name);
        step.status = StepStatus::Running;
        step.started_at.get_or_insert_with(|| at.to_owned());
    }

    /// An attempt of the current activity failed and Temporal will retry it (reported
    /// by the activity itself through a signal).
    pub fn attempt_failed(&mut self, attempt: u32, error: &str) {
        let Some(name) = self.current_step() else {
            return;
        };
        let step = self.step_mut(name);
        if step.status == StepStatus::Waiting {
            return;
        }
        step.attempts = step.attempts.max(attempt);
        step.status = StepStatus::Retrying;
        step.last_error = Some(error.to_owned());
        let event = step_event(step);
        self.events.push(event);
    }

    /// An activity of `name` succeeded on `attempt`. A step's attempts are those of its
    /// most tried service call (a step may make several).
    pub fn activity_succeeded(&mut self, name: StepName, attempt: u32) {
        let step = self.step_mut(name);
        step.attempts = step.attempts.max(attempt);
        if step.status == StepStatus::Retrying {
            step.status = StepStatus::Running;
        }
    }

    pub fn complete(&mut self, name: StepName, at: &str) {
        let step = self.step_mut(name);
        step.status = StepStatus::Completed;
        step.finished_at = Some(at.to_owned());
        // The notification steps are themselves the customer's event.
        if !matches!(name, StepName::NotifyCustomer | StepName::NotifyFailure) {
            let event = step_event(step);
            self.events.push(event);
        }
    }

    pub fn fail(&mut self, name: StepName, at: &str, attempts: Option<u32>, error: &str) {
        let step = self.step_mut(name);
        if let Some(attempt) = attempts {
            step.attempts = step.attempts.max(attempt);
        }
        step.status = StepStatus::Failed;
        step.finished_at = Some(at.to_owned());
        step.last_error = Some(error.to_owned());
        let event = step_event(step);
        self.events.push(event);
    }

    pub fn await_approval(&mut self, at: &str, deadline: &str, total: u64, currency: &str) {
        let step = self.step_mut(StepName::AwaitApproval);
        step.status = StepStatus::Waiting;
        step.started_at = Some(at.to_owned());
        self.phase = Some(SagaPhase::AwaitingApproval);
        self.approval_deadline = Some(deadline.to_owned());
        self.events.push(SagaEvent {
            kind: EventKind::OrderApprovalRequired,
            title: "Your order is in review".into(),
            data: object(json!({"deadline": deadline, "total": total, "currency": currency})),
            key: "approval_required".into(),
            live: true,
        });
    }

    pub fn phase(&self) -> SagaPhase {
        self.phase.unwrap_or(SagaPhase::Running)
    }

    pub fn attention(&self) -> Option<&Attention> {
        self.attention.as_ref()
    }

    /// A compensation failed a whole round at `step`; kept from the first such round
    /// until the step succeeds.
    pub fn compensation_stuck(&mut self, step: StepName, at: &str) {
        self.attention.get_or_insert_with(|| Attention {
            reason: AttentionReason::CompensationStuck,
            step,
            since: at.to_owned(),
        });
    }

    pub fn attention_resolved(&mut self) {
        self.attention = None;
    }

    /// The customer asked to cancel; the saga has not acted on it yet.
    pub fn cancel_requested(&mut self) {
        self.cancel_requested = true;
    }

    /// The reviewer who decided the review step (its `finished_at` is when).
    pub fn reviewed_by(&mut self, decider: Decider) {
        self.step_mut(StepName::AwaitApproval).decided_by = Some(decider);
    }

    pub fn approval_settled(&mut self) {
        self.phase = Some(SagaPhase::Running);
        self.approval_deadline = None;
    }

    /// Marks pending forward steps skipped and enters compensation.
    pub fn start_compensating(&mut self, reason: &str) {
        for step in &mut self.steps {
            if step.status == StepStatus::Pending {
                step.status = StepStatus::Skipped;
            }
        }
        self.phase = Some(SagaPhase::Compensating);
        self.cancel_reason = Some(reason.to_owned());
    }

    pub fn finish(&mut self, phase: SagaPhase) {
        self.phase = Some(phase);
    }

    /// Events not yet recorded, with their sequence numbers (stable across replays, so
    /// they make idempotency keys).
    pub fn unpublished(&self) -> Vec<(usize, SagaEvent)> {
        self.events
            .iter()
            .enumerate()
            .skip(self.published)
            .map(|(seq, event)| (seq, event.clone()))
            .collect()
    }

    pub fn has_unpublished(&self) -> bool {
        self.published < self.events.len()
    }

    /// Whether an event the customer should get now is unpublished.
    pub fn has_live_unpublished(&self) -> bool {
        self.events[self.published.min(self.events.len())..]
            .iter()
            .any(|event| event.live)
    }

    pub fn mark_published(&mut self, seq: usize) {
        self.published = self.published.max(seq + 1);
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A step on the timeline that has not started.
fn pending_step(name: StepName) -> StepRecord {
    StepRecord {
        name,
        status: StepStatus::Pending,
        attempts: 0,
        started_at: None,
        finished_at: None,
        last_error: None,
        decided_by: None,
    }
}

fn step_event(step: &StepRecord) -> SagaEvent {
    let status = serde_json::to_value(step.status).unwrap_or(Value::Null);
    let name = serde_json::to_value(step.name).unwrap_or(Value::Null);
    let verb = match step.status {
        StepStatus::Completed => "done",
        StepStatus::Failed => "failed",
        StepStatus::Retrying => "retrying",
        _ => "updated",
    };
    let mut data = object(json!({"step": name, "status": status, "attempts": step.attempts}));
    if let Some(error) = &step.last_error {
        data.insert("error".into(), Value::String(error.clone()));
    }
    SagaEvent {
        kind: EventKind::OrderStep,
        title: format!("{}: {verb}", step.name.title()),
        data,
        key: format!(
            "{}.{}.{}",
            step.name.as_str(),
            step.status.as_str(),
            step.attempts
        ),
        live: step.status == StepStatus::Retrying,
    }
}

#[cfg(test)]
mod tests;
