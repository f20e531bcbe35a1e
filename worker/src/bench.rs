//! The saga benchmark's baseline: a workflow of no-op activities, registered only by
//! the benchmark (`tools/bench`), never by the worker.

use std::time::Duration;

use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

/// The baseline: `count` activities that do nothing, one after another, as the saga
/// runs its activities one after another.
#[workflow]
#[derive(Default)]
pub struct NoopWorkflow;

#[workflow_methods]
impl NoopWorkflow {
    #[run(name = "NoopWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, count: u32) -> WorkflowResult<u32> {
        for _ in 0..count {
            ctx.execute_activity(
                NoopActivities::noop,
                (),
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        }
        Ok(count)
    }
}

pub struct NoopActivities;

#[activities]
impl NoopActivities {
    #[activity(name = "noop")]
    pub async fn noop(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Ok(())
    }
}
