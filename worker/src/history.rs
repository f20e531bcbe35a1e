//! What a saga's history says it cost: events, workflow tasks, activities, and the
//! billable actions Temporal Cloud charges for them (the saga tests hold the saga to
//! its shape with these, the benchmark prints them).
//!
//! The rules are Temporal Cloud's published ones, "Temporal Cloud Actions"
//! (<https://docs.temporal.io/cloud/actions>, read 2026-12-04):
//! - a workflow start is one action (also when started with an update: Update-with-Start);
//! - every accepted update is one action;
//! - every activity scheduled is one action, and every retry of it one more (the
//!   attempt of its `ActivityTaskStarted` event, minus one);
//! - all local activities of one workflow task count as one action (Temporal Cloud
//!   counts the `RecordMarker` commands of a workflow task as one), and every local
//!   activity attempt after the first that a task ran one more
//!   (`metering_metadata.nonfirst_local_activity_execution_attempts`);
//! - every timer, signal and child workflow start (two actions) counts, and every
//!   search attribute upsert except the SDK's own `TemporalChangeVersion` (patches);
//! - a reset counts once (a workflow task failed with cause `RESET_WORKFLOW`).
//!
//! Queries are billed too, but they leave no trace in a history; a workflow task
//! heartbeat (a task kept open past 80 % of its timeout by slow local activities) also
//! counts and is not counted here.

use std::collections::BTreeSet;

use temporalio_common::protos::constants::LOCAL_ACTIVITY_MARKER_NAME;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowTaskFailedCause;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// The search attribute the SDK upserts for patches; Temporal Cloud does not bill it.
const CHANGE_VERSION: &str = "TemporalChangeVersion";

/// What one history holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryFigures {
    pub events: usize,
    pub workflow_tasks: usize,
    /// Activities scheduled on the task queue.
    pub activities: usize,
    /// Local activities recorded (each one marker).
    pub local_activities: usize,
    pub billable_actions: u64,
}

pub fn figures(events: &[HistoryEvent]) -> HistoryFigures {
    let mut figures = HistoryFigures {
        events: events.len(),
        ..HistoryFigures::default()
    };
    // Workflow tasks (by the id of their `WorkflowTaskCompleted`) that recorded a marker.
    let mut tasks_with_markers = BTreeSet::new();
    let mut last_completed_task = 0;
    for event in events {
        let Some(attributes) = &event.attributes else {
            continue;
        };
        figures.billable_actions += match attributes {
            Attributes::WorkflowExecutionStartedEventAttributes(_)
            | Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(_)
            | Attributes::TimerStartedEventAttributes(_)
            | Attributes::WorkflowExecutionSignaledEventAttributes(_) => 1,
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(_) => 2,
            Attributes::ActivityTaskScheduledEventAttributes(_) => {
                figures.activities += 1;
                1
            }
            Attributes::ActivityTaskStartedEventAttributes(started) => {
                u64::from(started.attempt.max(1) as u32 - 1)
            }
            Attributes::WorkflowTaskCompletedEventAttributes(completed) => {
                figures.workflow_tasks += 1;
                last_completed_task = event.event_id;
                completed.metering_metadata.as_ref().map_or(0, |m| {
                    u64::from(m.nonfirst_local_activity_execution_attempts)
                })
            }
            Attributes::MarkerRecordedEventAttributes(marker) => {
                if marker.marker_name == LOCAL_ACTIVITY_MARKER_NAME {
                    figures.local_activities += 1;
                }
                tasks_with_markers.insert(last_completed_task);
                0
            }
            Attributes::UpsertWorkflowSearchAttributesEventAttributes(upsert) => {
                let only_change_version = upsert
                    .search_attributes
                    .as_ref()
                    .is_some_and(|sa| sa.indexed_fields.keys().all(|key| key == CHANGE_VERSION));
                u64::from(!only_change_version)
            }
            Attributes::WorkflowTaskFailedEventAttributes(failed)
                if failed.cause == WorkflowTaskFailedCause::ResetWorkflow as i32 =>
            {
                1
            }
            _ => 0,
        };
    }
    figures.billable_actions += tasks_with_markers.len() as u64;
    figures
}

/// The activities a history ran, in order, each with whether it ran locally (from its
/// marker) or on the task queue.
pub fn activities_run(events: &[HistoryEvent]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|event| match event.attributes.as_ref()? {
            Attributes::ActivityTaskScheduledEventAttributes(scheduled) => {
                Some((scheduled.activity_type.as_ref()?.name.clone(), false))
            }
            Attributes::MarkerRecordedEventAttributes(marker)
                if marker.marker_name == LOCAL_ACTIVITY_MARKER_NAME =>
            {
                let data = marker.details.get("data")?.payloads.first()?;
                let data: serde_json::Value = serde_json::from_slice(&data.data).ok()?;
                Some((data["activity_type"].as_str()?.to_owned(), true))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
