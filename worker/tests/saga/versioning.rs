//! Worker Versioning: two builds of the worker side by side on one task queue, as in a
//! blue/green rollout (docs/deploy.md). A saga is pinned to the build that was current
//! when it started and finishes there, even after the other build becomes current.

use std::time::Duration;

use saga_contract::{DecisionAction, Outcome};
use temporalio_client::{WorkflowDescribeOptions, tonic};
use temporalio_common::protos::temporal::api::enums::v1::{
    RoutingConfigUpdateState, VersioningBehavior,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkerDeploymentRequest, SetWorkerDeploymentCurrentVersionRequest,
};
use worker::config::{Deployment, WorkerConfig};
use worker::workflow::OrderSaga;

use crate::support::{InProcessWorker, Stack, eventually, saga, unique};

const BLUE: &str = "blue";
const GREEN: &str = "green";
/// How long the server may take to see a new version's pollers, and to carry a new
/// current version to the task queue.
const ROUTING_DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn sagas_finish_on_the_build_they_started_on_after_a_new_build_becomes_current() {
    let stack = Stack::start().await;
    // 10 × 125.00 is above the review threshold: each saga waits for its review, so the
    // ones started on blue are still open when green takes over.
    stack.add_product("MUG", 100, 12_500).await;
    let deployment = unique("order-saga");
    let build = |build_id: &str| WorkerConfig {
        deployment: Some(Deployment {
            name: deployment.clone(),
            build_id: build_id.to_owned(),
        }),
        ..stack.worker_config()
    };

    let _blue = InProcessWorker::start(build(BLUE));
    set_current_version(&stack, &deployment, BLUE).await;
    let started_on_blue = start_reviewed_sagas(&stack, "blue").await;

    let _green = InProcessWorker::start(build(GREEN));
    set_current_version(&stack, &deployment, GREEN).await;
    let started_on_green = start_reviewed_sagas(&stack, "green").await;

    // The reviews come after the switch: the blue sagas' remaining work (the decision,
    // the charge, the confirmation) is what pinning must keep on blue.
    for order_id in started_on_blue.iter().chain(&started_on_green) {
        stack
            .decide(order_id, DecisionAction::Approve, None)
            .await
            .expect("the approval is accepted");
        assert_eq!(stack.result(order_id).await.outcome, Outcome::Completed);
    }

    for order_id in &started_on_blue {
        assert_ran_pinned_on(&stack, order_id, &deployment, BLUE).await;
    }
    for order_id in &started_on_green {
        assert_ran_pinned_on(&stack, order_id, &deployment, GREEN).await;
    }
}

/// Starts two sagas that wait for review, and returns their ids once both do.
async fn start_reviewed_sagas(stack: &Stack, prefix: &str) -> Vec<String> {
    let mut order_ids = Vec::new();
    for _ in 0..2 {
        let input = saga(&unique(prefix), &[("MUG", 10, 12_500)], "card_approve");
        stack.start_saga(&input).await;
        order_ids.push(input.order_id);
    }
    for order_id in &order_ids {
        stack.awaiting_approval(order_id).await;
    }
    order_ids
}

/// What `temporal worker deployment set-current-version` does, then waits until the new
/// routing has reached the task queue, so that the next saga started goes to `build_id`.
/// Retried until the server has seen the version's pollers: it refuses a version
/// without them.
async fn set_current_version(stack: &Stack, deployment: &str, build_id: &str) {
    let namespace = stack.client.options().namespace.clone();
    eventually(
        ROUTING_DEADLINE,
        &format!("{build_id} to be accepted as the current version"),
        || async {
            let request = SetWorkerDeploymentCurrentVersionRequest {
                namespace: namespace.clone(),
                deployment_name: deployment.to_owned(),
                build_id: build_id.to_owned(),
                identity: "versioning test".to_owned(),
                ..SetWorkerDeploymentCurrentVersionRequest::default()
            };
            let mut service = stack.client.connection().workflow_service();
            match service
                .set_worker_deployment_current_version(tonic::Request::new(request))
                .await
            {
                Ok(_) => Some(()),
                Err(status) => {
                    eprintln!("set-current-version {build_id}: {}", status.message());
                    None
                }
            }
        },
    )
    .await;
    eventually(
        ROUTING_DEADLINE,
        &format!("{build_id} to be current on the task queue"),
        || async {
            let request = DescribeWorkerDeploymentRequest {
                namespace: namespace.clone(),
                deployment_name: deployment.to_owned(),
            };
            let mut service = stack.client.connection().workflow_service();
            let info = service
                .describe_worker_deployment(tonic::Request::new(request))
                .await
                .ok()?
                .into_inner()
                .worker_deployment_info?;
            let current = info
                .routing_config
                .as_ref()?
                .current_deployment_version
                .as_ref()?;
            (current.build_id == build_id
                && info.routing_config_update_state() == RoutingConfigUpdateState::Completed)
                .then_some(())
        },
    )
    .await;
}

/// Every workflow task of the saga, from its start to its completion, was completed by
/// `build_id` of `deployment` with the pinned behaviour, and Temporal describes the
/// finished saga so.
async fn assert_ran_pinned_on(stack: &Stack, order_id: &str, deployment: &str, build_id: &str) {
    let expected = (
        deployment.to_owned(),
        build_id.to_owned(),
        VersioningBehavior::Pinned,
    );
    let tasks: Vec<_> = stack
        .history(order_id)
        .await
        .into_iter()
        .filter_map(|event| match event.attributes {
            Some(Attributes::WorkflowTaskCompletedEventAttributes(task)) => Some(task),
            _ => None,
        })
        .map(|task| {
            let version = task.deployment_version.clone().unwrap_or_default();
            (
                version.deployment_name,
                version.build_id,
                task.versioning_behavior(),
            )
        })
        .collect();
    // At least the task that reached the review and the one that took the decision.
    assert!(tasks.len() >= 2, "{order_id}: {tasks:?}");
    assert!(
        tasks.iter().all(|task| *task == expected),
        "{order_id} should have run on {build_id} only, pinned: {tasks:?}"
    );

    let description = stack
        .client
        .get_workflow_handle::<OrderSaga>(order_id)
        .describe(WorkflowDescribeOptions::default())
        .await
        .expect("describe the saga");
    let versioning = description
        .raw_description
        .workflow_execution_info
        .and_then(|info| info.versioning_info)
        .expect("a versioned saga");
    let version = versioning.deployment_version.clone().unwrap_or_default();
    assert_eq!(
        (
            version.deployment_name,
            version.build_id,
            versioning.behavior()
        ),
        expected,
        "{order_id}'s recorded version"
    );
}
