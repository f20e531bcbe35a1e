//! What the SDK would otherwise leave quiet, logged with the workflow id: a workflow
//! task that fails (in the workflow's code, in decoding, or by nondeterminism), at
//! error level, since Temporal retries it forever and the saga is stuck until someone
//! looks; and a signal the saga has no handler for, which the SDK drops silently.
//!
//! Activations carry only the run id; the workflow id arrives once, with the job that
//! initialises a run, and is remembered until the run leaves the worker's cache.

use std::collections::HashMap;
use std::sync::Mutex;

use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_activation::remove_from_cache::EvictionReason;
use temporalio_common::protos::coresdk::workflow_activation::workflow_activation_job::Variant;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;
use temporalio_sdk::interceptors::WorkerInterceptor;

/// Something worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A workflow task failed: Temporal will retry it, and the saga waits meanwhile.
    TaskFailed {
        workflow_id: String,
        run_id: String,
        reason: String,
    },
    /// A signal the saga has no handler for; the SDK drops it.
    UnknownSignal { workflow_id: String, signal: String },
}

impl Report {
    pub fn log(&self) {
        match self {
            Self::TaskFailed {
                workflow_id,
                run_id,
                reason,
            } => tracing::error!(
                %workflow_id,
                %run_id,
                %reason,
                "workflow task failed; Temporal retries it and the saga waits until it passes"
            ),
            Self::UnknownSignal {
                workflow_id,
                signal,
            } => tracing::warn!(%workflow_id, %signal, "ignored a signal the saga does not know"),
        }
    }
}

/// The worker interceptor: register it on the saga's worker.
#[derive(Debug)]
pub struct TaskMonitor {
    /// The signals the workflow handles.
    known_signals: &'static [&'static str],
    /// run id → workflow id, for the runs in the worker's cache.
    workflow_ids: Mutex<HashMap<String, String>>,
}

impl TaskMonitor {
    pub fn new(known_signals: &'static [&'static str]) -> Self {
        Self {
            known_signals,
            workflow_ids: Mutex::new(HashMap::new()),
        }
    }

    fn workflow_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned map only means another thread panicked while logging: the data
        // (ids) is still usable.
        self.workflow_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn workflow_id(&self, run_id: &str) -> String {
        self.workflow_ids()
            .get(run_id)
            .cloned()
            .unwrap_or_else(|| format!("(unknown; run {run_id})"))
    }

    /// What an activation says: an eviction for a failure core detected itself, or
    /// signals without a handler.
    pub fn observe_activation(&self, activation: &WorkflowActivation) -> Vec<Report> {
        let run_id = &activation.run_id;
        let mut reports = Vec::new();
        for job in &activation.jobs {
            match &job.variant {
                Some(Variant::InitializeWorkflow(init)) => {
                    self.workflow_ids()
                        .insert(run_id.clone(), init.workflow_id.clone());
                }
                Some(Variant::SignalWorkflow(signal))
                    if !activation.is_replaying
                        && !self.known_signals.contains(&signal.signal_name.as_str()) =>
                {
                    reports.push(Report::UnknownSignal {
                        workflow_id: self.workflow_id(run_id),
                        signal: signal.signal_name.clone(),
                    });
                }
                Some(Variant::RemoveFromCache(eviction)) => {
                    // A failure lang reported is logged from its completion instead.
                    let failed = matches!(
                        eviction.reason(),
                        EvictionReason::Nondeterminism
                            | EvictionReason::Fatal
                            | EvictionReason::PaginationOrHistoryFetch
                    );
                    if failed {
                        reports.push(Report::TaskFailed {
                            workflow_id: self.workflow_id(run_id),
                            run_id: run_id.clone(),
                            reason: format!("{:?}: {}", eviction.reason(), eviction.message),
                        });
                    }
                    self.workflow_ids().remove(run_id);
                }
                _ => {}
            }
        }
        reports
    }

    /// A completion that fails the workflow task.
    pub fn observe_completion(&self, completion: &WorkflowActivationCompletion) -> Option<Report> {
        let Some(Status::Failed(failed)) = &completion.status else {
            return None;
        };
        let reason = failed
            .failure
            .as_ref()
            .map(|failure| failure.message.clone())
            .unwrap_or_default();
        Some(Report::TaskFailed {
            workflow_id: self.workflow_id(&completion.run_id),
            run_id: completion.run_id.clone(),
            reason,
        })
    }
}

#[async_trait::async_trait(?Send)]
impl WorkerInterceptor for TaskMonitor {
    async fn on_workflow_activation(
        &self,
        activation: &WorkflowActivation,
    ) -> Result<(), anyhow::Error> {
        for report in self.observe_activation(activation) {
            report.log();
        }
        Ok(())
    }

    async fn on_workflow_activation_completion(&self, completion: &WorkflowActivationCompletion) {
        if let Some(report) = self.observe_completion(completion) {
            report.log();
        }
    }
}

#[cfg(test)]
mod tests {
    use temporalio_common::protos::coresdk::workflow_activation::{
        InitializeWorkflow, RemoveFromCache, SignalWorkflow, WorkflowActivationJob,
    };
    use temporalio_common::protos::coresdk::workflow_completion::Failure;
    use temporalio_common::protos::temporal::api::failure::v1::Failure as TemporalFailure;

    use super::*;

    fn activation(run_id: &str, replaying: bool, jobs: Vec<Variant>) -> WorkflowActivation {
        WorkflowActivation {
            run_id: run_id.to_owned(),
            is_replaying: replaying,
            jobs: jobs
                .into_iter()
                .map(|variant| WorkflowActivationJob {
                    variant: Some(variant),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn initialize(workflow_id: &str) -> Variant {
        Variant::InitializeWorkflow(InitializeWorkflow {
            workflow_id: workflow_id.to_owned(),
            ..Default::default()
        })
    }

    fn signal(name: &str) -> Variant {
        Variant::SignalWorkflow(SignalWorkflow {
            signal_name: name.to_owned(),
            ..Default::default()
        })
    }

    fn eviction(reason: EvictionReason) -> Variant {
        Variant::RemoveFromCache(RemoveFromCache {
            message: "boom".to_owned(),
            reason: reason as i32,
        })
    }

    #[test]
    fn unknown_signals_are_reported_with_the_workflow_id_once_not_on_replay() {
        let monitor = TaskMonitor::new(&["approve"]);
        assert!(
            monitor
                .observe_activation(&activation("r1", false, vec![initialize("o-1")]))
                .is_empty()
        );
        let reports = monitor.observe_activation(&activation(
            "r1",
            false,
            vec![signal("approve"), signal("approev")],
        ));
        assert_eq!(
            reports,
            [Report::UnknownSignal {
                workflow_id: "o-1".into(),
                signal: "approev".into()
            }]
        );
        let replayed = activation("r1", true, vec![signal("approev")]);
        assert!(monitor.observe_activation(&replayed).is_empty());
    }

    #[test]
    fn a_failed_completion_is_a_task_failure_of_that_workflow() {
        let monitor = TaskMonitor::new(&[]);
        monitor.observe_activation(&activation("r1", false, vec![initialize("o-1")]));
        let completion = WorkflowActivationCompletion {
            run_id: "r1".into(),
            status: Some(Status::Failed(Failure {
                failure: Some(TemporalFailure {
                    message: "Encoding error".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            monitor.observe_completion(&completion),
            Some(Report::TaskFailed {
                workflow_id: "o-1".into(),
                run_id: "r1".into(),
                reason: "Encoding error".into(),
            })
        );
        let succeeded = WorkflowActivationCompletion {
            run_id: "r1".into(),
            ..Default::default()
        };
        assert_eq!(monitor.observe_completion(&succeeded), None);
    }

    #[test]
    fn evictions_for_failures_are_reported_and_forget_the_run() {
        let monitor = TaskMonitor::new(&[]);
        monitor.observe_activation(&activation("r1", false, vec![initialize("o-1")]));
        let reports = monitor.observe_activation(&activation(
            "r1",
            false,
            vec![eviction(EvictionReason::Nondeterminism)],
        ));
        assert_eq!(
            reports,
            [Report::TaskFailed {
                workflow_id: "o-1".into(),
                run_id: "r1".into(),
                reason: "Nondeterminism: boom".into(),
            }]
        );
        assert!(monitor.workflow_ids().is_empty());

        monitor.observe_activation(&activation("r2", false, vec![initialize("o-2")]));
        let routine = [
            EvictionReason::CacheFull,
            EvictionReason::WorkflowExecutionEnding,
            EvictionReason::LangFail,
        ];
        for reason in routine {
            let evicted = activation("r2", false, vec![eviction(reason)]);
            assert!(
                monitor.observe_activation(&evicted).is_empty(),
                "{reason:?}"
            );
        }
        assert!(monitor.workflow_ids().is_empty());
    }
}
