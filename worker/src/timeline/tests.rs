use super::*;

/// The forward steps, as the saga declares them (`workflow/steps.rs`).
const FORWARD: [StepName; 6] = [
    StepName::CreateOrder,
    StepName::ReserveInventory,
    StepName::AwaitApproval,
    StepName::ChargePayment,
    StepName::ConfirmOrder,
    StepName::NotifyCustomer,
];

fn forward_timeline(needs_approval: bool) -> Timeline {
    let mut timeline = Timeline::new("o-1", "c-1", FORWARD);
    if !needs_approval {
        timeline.skip(StepName::AwaitApproval);
    }
    timeline
}

fn statuses(timeline: &Timeline) -> Vec<(StepName, StepStatus)> {
    timeline
        .snapshot()
        .steps
        .iter()
        .map(|s| (s.name, s.status))
        .collect()
}

#[test]
fn approval_is_skipped_below_the_threshold() {
    let timeline = forward_timeline(false);
    assert_eq!(
        timeline.step(StepName::AwaitApproval).map(|s| s.status),
        Some(StepStatus::Skipped)
    );
    let timeline = forward_timeline(true);
    assert_eq!(
        timeline.step(StepName::AwaitApproval).map(|s| s.status),
        Some(StepStatus::Pending)
    );
}

#[test]
fn a_steps_attempts_are_those_of_its_most_tried_call() {
    let mut timeline = forward_timeline(false);
    timeline.start(StepName::ReserveInventory, "t1");
    timeline.attempt_failed(1, "inventory failed: 503");
    timeline.attempt_failed(2, "inventory failed: 503");
    let step = timeline.step(StepName::ReserveInventory).expect("step");
    assert_eq!((step.status, step.attempts), (StepStatus::Retrying, 2));
    timeline.activity_succeeded(StepName::ReserveInventory, 3);
    // The order's status update, first time.
    timeline.activity_succeeded(StepName::ReserveInventory, 1);
    timeline.complete(StepName::ReserveInventory, "t2");
    let step = timeline.step(StepName::ReserveInventory).expect("step");
    assert_eq!((step.status, step.attempts), (StepStatus::Completed, 3));
    assert_eq!(step.last_error.as_deref(), Some("inventory failed: 503"));
    assert_eq!(step.started_at.as_deref(), Some("t1"));
    assert_eq!(step.finished_at.as_deref(), Some("t2"));
}

#[test]
fn the_current_step_is_the_one_running_or_waiting() {
    let mut timeline = forward_timeline(true);
    assert_eq!(timeline.current_step(), None);
    timeline.start(StepName::CreateOrder, "t");
    assert_eq!(timeline.current_step(), Some(StepName::CreateOrder));
    timeline.complete(StepName::CreateOrder, "t");
    timeline.await_approval("t", "deadline", 90_000, "EUR");
    assert_eq!(timeline.current_step(), Some(StepName::AwaitApproval));
    assert_eq!(timeline.snapshot().phase, SagaPhase::AwaitingApproval);
    assert_eq!(
        timeline.snapshot().approval_deadline.as_deref(),
        Some("deadline")
    );
}

#[test]
fn a_late_failure_report_does_not_disturb_a_waiting_step() {
    let mut timeline = forward_timeline(true);
    timeline.await_approval("t", "deadline", 1, "EUR");
    timeline.attempt_failed(1, "boom");
    assert_eq!(
        timeline.step(StepName::AwaitApproval).map(|s| s.status),
        Some(StepStatus::Waiting)
    );
}

#[test]
fn compensation_skips_what_was_not_started_and_appends_its_steps() {
    let mut timeline = forward_timeline(false);
    timeline.start(StepName::CreateOrder, "t");
    timeline.complete(StepName::CreateOrder, "t");
    timeline.start(StepName::ReserveInventory, "t");
    timeline.fail(StepName::ReserveInventory, "t", Some(1), "out of stock");
    timeline.start_compensating("out of stock");
    timeline.start(StepName::CancelOrder, "t");
    timeline.complete(StepName::CancelOrder, "t");
    timeline.finish(SagaPhase::Cancelled);
    assert_eq!(
        statuses(&timeline),
        [
            (StepName::CreateOrder, StepStatus::Completed),
            (StepName::ReserveInventory, StepStatus::Failed),
            (StepName::AwaitApproval, StepStatus::Skipped),
            (StepName::ChargePayment, StepStatus::Skipped),
            (StepName::ConfirmOrder, StepStatus::Skipped),
            (StepName::NotifyCustomer, StepStatus::Skipped),
            (StepName::CancelOrder, StepStatus::Completed),
        ]
    );
    let status = timeline.snapshot();
    assert_eq!(status.phase, SagaPhase::Cancelled);
    assert_eq!(status.cancel_reason.as_deref(), Some("out of stock"));
}

#[test]
fn events_are_numbered_once_and_published_in_order() {
    let mut timeline = forward_timeline(false);
    timeline.start(StepName::CreateOrder, "t");
    timeline.complete(StepName::CreateOrder, "t");
    timeline.start(StepName::ReserveInventory, "t");
    timeline.attempt_failed(1, "503");
    let pending = timeline.unpublished();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].0, 0);
    assert_eq!(pending[0].1.data["status"], "completed");
    assert_eq!(pending[1].1.data["status"], "retrying");
    assert_eq!(pending[1].1.data["error"], "503");
    timeline.mark_published(0);
    assert_eq!(timeline.unpublished()[0].0, 1);
    timeline.mark_published(1);
    assert!(!timeline.has_unpublished());
}

#[test]
fn the_notification_steps_are_not_announced_twice() {
    let mut timeline = forward_timeline(false);
    timeline.start(StepName::NotifyCustomer, "t");
    timeline.complete(StepName::NotifyCustomer, "t");
    assert!(!timeline.has_unpublished());
}

#[test]
fn notes_keep_the_last_few_and_are_not_sent_to_the_customer() {
    let mut timeline = Timeline::new("o", "c", FORWARD);
    timeline.skip(StepName::AwaitApproval);
    for i in 0..(MAX_NOTES + 5) {
        timeline.note(&format!("ignored: note {i}"));
    }
    let notes = timeline.snapshot().notes;
    assert_eq!(notes.len(), MAX_NOTES);
    assert_eq!(notes.first().map(String::as_str), Some("ignored: note 5"));
    assert_eq!(
        notes.last().map(String::as_str),
        Some(format!("ignored: note {}", MAX_NOTES + 4).as_str())
    );
    assert!(!timeline.has_unpublished());
}

#[test]
fn only_retries_and_reviews_are_live_and_each_event_has_a_stable_key() {
    let mut timeline = forward_timeline(true);
    timeline.start(StepName::CreateOrder, "t");
    timeline.complete(StepName::CreateOrder, "t");
    assert!(timeline.has_unpublished());
    assert!(!timeline.has_live_unpublished(), "a step done can wait");
    timeline.start(StepName::ReserveInventory, "t");
    timeline.attempt_failed(1, "inventory is unavailable");
    assert!(timeline.has_live_unpublished(), "a retry cannot");
    let keys: Vec<(String, bool)> = timeline
        .unpublished()
        .into_iter()
        .map(|(_, event)| (event.key, event.live))
        .collect();
    assert_eq!(
        keys,
        [
            ("create_order.completed.0".to_owned(), false),
            ("reserve_inventory.retrying.1".to_owned(), true),
        ]
    );
    for (seq, _) in timeline.unpublished() {
        timeline.mark_published(seq);
    }
    timeline.await_approval("t", "deadline", 90_000, "EUR");
    assert!(timeline.has_live_unpublished());
    assert_eq!(timeline.unpublished()[0].1.key, "approval_required");
}

#[test]
fn the_final_notification_reports_the_steps_that_ran_but_itself() {
    let mut timeline = forward_timeline(false);
    for step in [StepName::CreateOrder, StepName::ReserveInventory] {
        timeline.start(step, "t");
        timeline.complete(step, "t");
    }
    timeline.start(StepName::NotifyCustomer, "t");
    let ran: Vec<StepName> = timeline.ran().iter().map(|s| s.name).collect();
    assert_eq!(ran, [StepName::CreateOrder, StepName::ReserveInventory]);
}
