use std::collections::HashMap;

use temporalio_common::protos::temporal::api::common::v1::{
    MeteringMetadata, Payload, SearchAttributes,
};
use temporalio_common::protos::temporal::api::history::v1::{
    ActivityTaskScheduledEventAttributes, ActivityTaskStartedEventAttributes,
    MarkerRecordedEventAttributes, TimerStartedEventAttributes,
    UpsertWorkflowSearchAttributesEventAttributes, WorkflowExecutionCompletedEventAttributes,
    WorkflowExecutionSignaledEventAttributes, WorkflowExecutionStartedEventAttributes,
    WorkflowExecutionUpdateAcceptedEventAttributes, WorkflowTaskCompletedEventAttributes,
    WorkflowTaskFailedEventAttributes, WorkflowTaskScheduledEventAttributes,
    WorkflowTaskStartedEventAttributes,
};

use super::*;

fn history(attributes: Vec<Attributes>) -> Vec<HistoryEvent> {
    attributes
        .into_iter()
        .enumerate()
        .map(|(i, attributes)| HistoryEvent {
            event_id: i as i64 + 1,
            attributes: Some(attributes),
            ..HistoryEvent::default()
        })
        .collect()
}

fn task(nonfirst_local_attempts: u32) -> [Attributes; 3] {
    [
        Attributes::WorkflowTaskScheduledEventAttributes(
            WorkflowTaskScheduledEventAttributes::default(),
        ),
        Attributes::WorkflowTaskStartedEventAttributes(
            WorkflowTaskStartedEventAttributes::default(),
        ),
        Attributes::WorkflowTaskCompletedEventAttributes(WorkflowTaskCompletedEventAttributes {
            metering_metadata: Some(MeteringMetadata {
                nonfirst_local_activity_execution_attempts: nonfirst_local_attempts,
            }),
            ..WorkflowTaskCompletedEventAttributes::default()
        }),
    ]
}

fn marker(name: &str) -> Attributes {
    Attributes::MarkerRecordedEventAttributes(MarkerRecordedEventAttributes {
        marker_name: name.to_owned(),
        ..MarkerRecordedEventAttributes::default()
    })
}

fn upsert(key: &str) -> Attributes {
    Attributes::UpsertWorkflowSearchAttributesEventAttributes(
        UpsertWorkflowSearchAttributesEventAttributes {
            search_attributes: Some(SearchAttributes {
                indexed_fields: HashMap::from([(key.to_owned(), Payload::default())]),
            }),
            ..UpsertWorkflowSearchAttributesEventAttributes::default()
        },
    )
}

#[test]
fn local_activities_of_one_task_are_one_action_and_retries_count() {
    let mut events = vec![Attributes::WorkflowExecutionStartedEventAttributes(
        WorkflowExecutionStartedEventAttributes::default(),
    )];
    events.extend(task(0));
    events.extend([
        marker("core_patch"),
        upsert(CHANGE_VERSION),
        Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(
            WorkflowExecutionUpdateAcceptedEventAttributes::default(),
        ),
        marker(LOCAL_ACTIVITY_MARKER_NAME),
        marker(LOCAL_ACTIVITY_MARKER_NAME),
        Attributes::ActivityTaskScheduledEventAttributes(
            ActivityTaskScheduledEventAttributes::default(),
        ),
        Attributes::ActivityTaskStartedEventAttributes(ActivityTaskStartedEventAttributes {
            attempt: 3,
            ..ActivityTaskStartedEventAttributes::default()
        }),
    ]);
    events.extend(task(2));
    events.extend([
        marker(LOCAL_ACTIVITY_MARKER_NAME),
        Attributes::WorkflowExecutionCompletedEventAttributes(
            WorkflowExecutionCompletedEventAttributes::default(),
        ),
    ]);
    let figures = figures(&history(events));
    assert_eq!(figures.events, 16);
    assert_eq!(figures.workflow_tasks, 2);
    assert_eq!(figures.activities, 1);
    assert_eq!(figures.local_activities, 3);
    // start 1, update 1, activity 1 + 2 retries, markers of two tasks 2, two local
    // attempts after the first 2; the patch's own search attribute is free.
    assert_eq!(figures.billable_actions, 9);
}

#[test]
fn timers_signals_search_attributes_and_resets_count() {
    let mut events = vec![
        Attributes::WorkflowExecutionStartedEventAttributes(
            WorkflowExecutionStartedEventAttributes::default(),
        ),
        Attributes::WorkflowExecutionSignaledEventAttributes(
            WorkflowExecutionSignaledEventAttributes::default(),
        ),
        Attributes::WorkflowTaskFailedEventAttributes(WorkflowTaskFailedEventAttributes {
            cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
            ..WorkflowTaskFailedEventAttributes::default()
        }),
        Attributes::WorkflowTaskFailedEventAttributes(WorkflowTaskFailedEventAttributes::default()),
    ];
    events.extend(task(0));
    events.extend([
        Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes::default()),
        upsert("SagaPhase"),
    ]);
    // start, signal, reset, timer, search attribute
    assert_eq!(figures(&history(events)).billable_actions, 5);
}

#[test]
fn activities_run_name_each_activity_and_where_it_ran() {
    let local_marker = |activity: &str| {
        let data = serde_json::json!({"seq": 1, "attempt": 1, "activity_type": activity});
        Attributes::MarkerRecordedEventAttributes(MarkerRecordedEventAttributes {
            marker_name: LOCAL_ACTIVITY_MARKER_NAME.to_owned(),
            details: HashMap::from([(
                "data".to_owned(),
                temporalio_common::protos::temporal::api::common::v1::Payloads {
                    payloads: vec![Payload {
                        data: serde_json::to_vec(&data).expect("json"),
                        ..Payload::default()
                    }],
                },
            )]),
            ..MarkerRecordedEventAttributes::default()
        })
    };
    let events = history(vec![
        local_marker("create_order"),
        marker("core_patch"),
        Attributes::ActivityTaskScheduledEventAttributes(ActivityTaskScheduledEventAttributes {
            activity_type: Some(
                temporalio_common::protos::temporal::api::common::v1::ActivityType {
                    name: "charge_payment".to_owned(),
                },
            ),
            ..ActivityTaskScheduledEventAttributes::default()
        }),
        local_marker("record_notification"),
    ]);
    assert_eq!(
        activities_run(&events),
        [
            ("create_order".to_owned(), true),
            ("charge_payment".to_owned(), false),
            ("record_notification".to_owned(), true),
        ]
    );
}
