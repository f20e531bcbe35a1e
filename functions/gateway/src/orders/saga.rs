//! The gateway's side of the order saga: start it, send it decisions, ask where it
//! stands, list those awaiting review.
//!
//! The Temporal client is created once per instance (at the first call, so a cold
//! start does not wait for it) and reused for every invocation. The connection comes
//! from the SDK's standard environment, like the worker's: Temporal Cloud-ready, with
//! the credentials read from Secrets Manager (`temporal_credentials`). Its payloads
//! are encrypted with the worker's key ring (`service_kit::payload_codec`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use saga_contract::temporal::{Decide, OrderSaga, Reservation, RetryNow, Status};
use saga_contract::{
    ATTENTION_SEARCH_ATTRIBUTE, AttentionReason, OUTCOME_SEARCH_ATTRIBUTE, OrderDecision,
    PHASE_SEARCH_ATTRIBUTE, RESERVATION_UPDATE, ReservationOutcome, SagaInput, SagaOutcome,
    SagaPhase, SagaStatus, WORKFLOW_TYPE, refusals,
};
use service_kit::Problem;
use service_kit::payload_codec::{self, PayloadKeys};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowStartError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::{
    Client, ClientOptions, Connection, RpcOptions, WorkflowCountOptions, WorkflowDescribeOptions,
    WorkflowExecuteUpdateOptions, WorkflowExecution, WorkflowExecutionStatus,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowListOptions, WorkflowQueryOptions,
    WorkflowUpdateWithStartOptions, tonic,
};
use temporalio_common::protos::temporal::api::enums::v1::{TaskQueueKind, TaskQueueType};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;
use temporalio_sdk::opentelemetry::OpenTelemetryPlugin;
use tokio::sync::OnceCell;

use crate::models::{QueueLoad, TaskQueueLoad};
use crate::temporal_credentials::{CredentialsError, TemporalCredentials};

/// How long one saga's status may take when it is an entry of a list: a busy worker
/// answers queries late, and a saga whose workflow tasks fail may not answer at all.
const LISTED_STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a decision may wait for a worker to take it: beyond this the caller is
/// told to retry (a retry is the same update, so it is applied at most once).
const DECISION_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Sagas {
    client: OnceCell<Client>,
    task_queue: String,
    /// The key ring of the saga's payloads (`None`: payloads in clear, local only).
    payload_keys: Option<Arc<PayloadKeys>>,
    /// Temporal Cloud's API key or mTLS identity, from Secrets Manager.
    credentials: Option<TemporalCredentials>,
}

/// What a checkout learns of its saga's reservation within its wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout {
    /// The stock is held; the saga goes on.
    Held,
    /// The saga stopped before holding the stock: why.
    NotHeld(ReservationOutcome),
    /// No outcome yet (a service is down and its step retries, or the saga has ended
    /// and Temporal no longer answers for it): the client follows the order.
    Pending,
}

impl From<ReservationOutcome> for Checkout {
    fn from(outcome: ReservationOutcome) -> Self {
        if outcome.held {
            Self::Held
        } else {
            Self::NotHeld(outcome)
        }
    }
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> Problem {
    tracing::error!(%error, "temporal: {what}");
    Problem::unavailable("Orders cannot be processed right now. Retry shortly.")
}

impl Sagas {
    pub fn new(task_queue: impl Into<String>, payload_keys: Option<Arc<PayloadKeys>>) -> Self {
        Self {
            client: OnceCell::new(),
            task_queue: task_queue.into(),
            payload_keys,
            credentials: None,
        }
    }

    /// Connects with `credentials` besides the standard environment.
    pub fn with_credentials(mut self, credentials: Option<TemporalCredentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Checks, before the gateway serves anything, that the Temporal credentials (if
    /// configured) can be read.
    pub async fn ready(&self) -> Result<(), CredentialsError> {
        match &self.credentials {
            Some(credentials) => credentials.check().await,
            None => Ok(()),
        }
    }

    /// A gateway for tests and tools that already hold a client (made with the same
    /// payload keys).
    pub fn with_client(
        client: Client,
        task_queue: impl Into<String>,
        payload_keys: Option<Arc<PayloadKeys>>,
    ) -> Self {
        Self {
            client: OnceCell::new_with(Some(client)),
            task_queue: task_queue.into(),
            payload_keys,
            credentials: None,
        }
    }

    pub fn payload_keys(&self) -> Option<&Arc<PayloadKeys>> {
        self.payload_keys.as_ref()
    }

    async fn client(&self) -> Result<&Client, Problem> {
        self.client
            .get_or_try_init(|| async {
                let (mut connection, loaded) =
                    ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
                        .map_err(|e| unavailable("settings", e))?;
                if let Some(credentials) = &self.credentials {
                    credentials
                        .apply(&mut connection)
                        .await
                        .map_err(|e| unavailable("credentials", e))?;
                }
                let mut options = ClientOptions::new(loaded.namespace)
                    .data_converter(payload_codec::data_converter(self.payload_keys.clone()));
                if service_kit::telemetry::exporting() {
                    // Starts, updates and queries carry the request's trace into the saga.
                    options = options.plugin(OpenTelemetryPlugin::builder().build());
                }
                let connection = Connection::connect(connection)
                    .await
                    .map_err(|e| unavailable("connect", e))?;
                Client::new(connection, options.build()).map_err(|e| unavailable("client", e))
            })
            .await
    }

    /// Starts the saga under its order id together with its `reservation` update
    /// (Update-with-Start, one request to Temporal) and waits up to `wait` for the
    /// outcome. A running saga with this id is joined rather than started again, and
    /// the update id is fixed, so a repeat gets the same outcome; a finished one is
    /// never started again: this is what makes order creation idempotent.
    pub async fn checkout(&self, input: SagaInput, wait: Duration) -> Result<Checkout, Problem> {
        let client = self.client().await?;
        let options = WorkflowUpdateWithStartOptions::new(
            self.task_queue.clone(),
            input.order_id.clone(),
            WorkflowIdConflictPolicy::UseExisting,
        )
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .update_id(RESERVATION_UPDATE)
        .build();
        let order_id = input.order_id.clone();
        let deadline = tokio::time::Instant::now() + wait;
        let accepted =
            client.start_update_with_start_workflow(OrderSaga, input, Reservation, (), options);
        // The update is accepted only once a worker runs the saga: no worker, no answer.
        let handle = match tokio::time::timeout_at(deadline, accepted).await {
            Ok(Ok(handle)) => handle,
            // The saga has ended: its order says what happened.
            Ok(Err(WorkflowUpdateWithStartError::Start(WorkflowStartError::AlreadyStarted {
                ..
            })))
            | Ok(Err(WorkflowUpdateWithStartError::Update(WorkflowUpdateError::NotFound(_)))) => {
                return Ok(Checkout::Pending);
            }
            Ok(Err(error)) => return Err(unavailable("update with start", error)),
            // Started and waiting for a worker, unless the request never got there.
            Err(_) => return self.started_or_unavailable(client, &order_id).await,
        };
        let result = handle.get_result(RpcOptions::default());
        reservation_answer(tokio::time::timeout_at(deadline, result).await)
    }

    async fn started_or_unavailable(
        &self,
        client: &Client,
        order_id: &str,
    ) -> Result<Checkout, Problem> {
        let handle = client.get_workflow_handle::<OrderSaga>(order_id);
        match handle.describe(WorkflowDescribeOptions::default()).await {
            Ok(_) => Ok(Checkout::Pending),
            Err(error) => Err(unavailable("start", error)),
        }
    }

    /// The reservation outcome of a saga started by an earlier request, within `wait`;
    /// starts nothing.
    pub async fn reservation(&self, order_id: &str, wait: Duration) -> Result<Checkout, Problem> {
        let client = self.client().await?;
        let options = WorkflowExecuteUpdateOptions::builder()
            .update_id(RESERVATION_UPDATE.to_owned())
            .build();
        let handle = client.get_workflow_handle::<OrderSaga>(order_id);
        let update = handle.execute_update(Reservation, (), options);
        reservation_answer(tokio::time::timeout(wait, update).await)
    }

    /// [`Self::running_status`] for an entry of a list, within [`LISTED_STATUS_TIMEOUT`]:
    /// one saga that does not answer must not hold up the list.
    pub async fn listed_status(&self, order_id: &str) -> Result<Option<SagaStatus>, Problem> {
        tokio::time::timeout(LISTED_STATUS_TIMEOUT, self.running_status(order_id))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(order_id, "the saga's status took too long for a list");
                Err(Problem::unavailable("The saga did not answer in time."))
            })
    }

    /// The saga's status while it runs; `None` once it has finished or if it never
    /// existed (then the order service has the last word).
    pub async fn running_status(&self, order_id: &str) -> Result<Option<SagaStatus>, Problem> {
        let client = self.client().await?;
        let handle = client.get_workflow_handle::<OrderSaga>(order_id);
        let description = match handle.describe(WorkflowDescribeOptions::default()).await {
            Ok(description) => description,
            Err(WorkflowInteractionError::NotFound(_)) => return Ok(None),
            Err(error) => return Err(unavailable("describe", error)),
        };
        if description.status() != WorkflowExecutionStatus::Running {
            return Ok(None);
        }
        match handle
            .query(Status, (), WorkflowQueryOptions::default())
            .await
        {
            Ok(status) => Ok(Some(status)),
            Err(error) => Err(unavailable("query", error)),
        }
    }

    /// Sends a decision as the saga's `decide` update and answers the saga's status
    /// with it applied. A decision that can no longer take effect is refused by the
    /// saga's validator (nothing enters its history): 409 with the saga's reason. The
    /// update id is the action, so a repeated request is the same update, applied once.
    pub async fn decide(
        &self,
        order_id: &str,
        decision: OrderDecision,
    ) -> Result<SagaStatus, Problem> {
        let client = self.client().await?;
        let handle = client.get_workflow_handle::<OrderSaga>(order_id);
        let options = WorkflowExecuteUpdateOptions::builder()
            .update_id(decision.action.as_str().to_owned())
            .build();
        let update = handle.execute_update(Decide, decision, options);
        update_answer(tokio::time::timeout(DECISION_TIMEOUT, update).await)
    }

    /// The ids of the orders whose sagas await review, at most `limit`, from
    /// Temporal's visibility (the `SagaPhase` search attribute).
    pub async fn awaiting_review(&self, limit: usize) -> Result<Vec<String>, Problem> {
        let condition = format!(
            "{PHASE_SEARCH_ATTRIBUTE} = '{}'",
            SagaPhase::AwaitingApproval.as_str()
        );
        self.running(Some(&condition), limit).await
    }

    /// The ids of the orders whose sagas need an operator (the `SagaAttention` search
    /// attribute), at most `limit`.
    pub async fn needing_attention(&self, limit: usize) -> Result<Vec<String>, Problem> {
        let condition = format!(
            "{ATTENTION_SEARCH_ATTRIBUTE} = '{}'",
            AttentionReason::CompensationStuck.as_str()
        );
        self.running(Some(&condition), limit).await
    }

    /// Visibility's predicate for this gateway's sagas: the saga's type on its task
    /// queue. Another deployment in the same namespace has its own queue, and its
    /// sagas are its own.
    fn ours(&self) -> String {
        format!(
            "WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{}'",
            self.task_queue
        )
    }

    /// The ids of this gateway's running sagas (those that meet `condition`, if
    /// given), at most `limit`.
    async fn running(&self, condition: Option<&str>, limit: usize) -> Result<Vec<String>, Problem> {
        let client = self.client().await?;
        let mut query = format!("{} AND ExecutionStatus = 'Running'", self.ours());
        if let Some(condition) = condition {
            query = format!("{query} AND {condition}");
        }
        let options = WorkflowListOptions::builder().limit(limit).build();
        client
            .list_workflows(query, options)
            .map_ok(|execution| execution.id().to_owned())
            .try_collect()
            .await
            .map_err(|error| unavailable("list", error))
    }

    /// The sagas of this gateway's task queue that ended after `since`, at most `limit`,
    /// from Temporal's visibility: when each started and ended, and how (the
    /// `SagaOutcome` search attribute of a compensated saga; `None` for one that
    /// Temporal ended: terminated, failed, timed out).
    pub async fn ended_since(
        &self,
        since: SystemTime,
        limit: usize,
    ) -> Result<Vec<EndedSaga>, Problem> {
        let client = self.client().await?;
        let query = format!(
            "{} AND ExecutionStatus != 'Running' AND CloseTime > '{}'",
            self.ours(),
            service_kit::clock::format_system_time(since)
        );
        let options = WorkflowListOptions::builder().limit(limit).build();
        client
            .list_workflows(query, options)
            .try_filter_map(|execution| async move {
                // Completed without a recorded cause: every step done. Terminated,
                // failed or timed out: ended by Temporal, not by the saga.
                let outcome = (execution.status() == WorkflowExecutionStatus::Completed)
                    .then(|| outcome_of(&execution).unwrap_or(SagaOutcome::Completed));
                Ok(execution
                    .start_time()
                    .zip(execution.close_time())
                    .map(|(started, ended)| EndedSaga {
                        started,
                        ended,
                        outcome,
                    }))
            })
            .try_collect()
            .await
            .map_err(|error| unavailable("list", error))
    }

    /// How many sagas run now on this gateway's task queue (visibility's count).
    pub async fn running_count(&self) -> Result<u64, Problem> {
        let client = self.client().await?;
        let query = format!("{} AND ExecutionStatus = 'Running'", self.ours());
        client
            .count_workflows(query, WorkflowCountOptions::default())
            .await
            .map(|count| count.count() as u64)
            .map_err(|error| unavailable("count", error))
    }

    /// The ids of the sagas running on this gateway's task queue, at most `limit`.
    pub async fn running_ids(&self, limit: usize) -> Result<Vec<String>, Problem> {
        self.running(None, limit).await
    }

    /// The saga task queue as the server sees it, for workflow and for activity tasks:
    /// its backlog, rates and pollers (`DescribeTaskQueue` with `report_stats`, the
    /// current form of the API's enhanced mode).
    pub async fn task_queue(&self) -> Result<TaskQueueLoad, Problem> {
        let client = self.client().await?;
        let namespace = client.options().namespace.clone();
        let describe = |kind: TaskQueueType| {
            let request = DescribeTaskQueueRequest {
                namespace: namespace.clone(),
                task_queue: Some(TaskQueue {
                    name: self.task_queue.clone(),
                    kind: TaskQueueKind::Normal as i32,
                    normal_name: String::new(),
                }),
                task_queue_type: kind as i32,
                report_stats: true,
                ..DescribeTaskQueueRequest::default()
            };
            let mut service = client.connection().workflow_service();
            async move {
                let reply = service
                    .describe_task_queue(tonic::Request::new(request))
                    .await
                    .map_err(|status| unavailable("describe task queue", status.message()))?
                    .into_inner();
                let stats = reply.stats.unwrap_or_default();
                Ok::<_, Problem>(QueueLoad {
                    backlog: stats.approximate_backlog_count.max(0) as u64,
                    backlog_age_ms: stats.approximate_backlog_age.map_or(0, |age| {
                        (age.seconds.max(0) as u64) * 1000 + (age.nanos.max(0) as u64) / 1_000_000
                    }),
                    add_rate: f64::from(stats.tasks_add_rate),
                    dispatch_rate: f64::from(stats.tasks_dispatch_rate),
                    pollers: reply.pollers.len() as u32,
                })
            }
        };
        let (workflow, activity) = tokio::try_join!(
            describe(TaskQueueType::Workflow),
            describe(TaskQueueType::Activity)
        )?;
        Ok(TaskQueueLoad {
            name: self.task_queue.clone(),
            workflow,
            activity,
        })
    }

    /// An operator's "retry now" for a stuck saga: its status, or 409 with the reason
    /// there is nothing to retry.
    pub async fn retry_now(&self, order_id: &str) -> Result<SagaStatus, Problem> {
        let client = self.client().await?;
        let handle = client.get_workflow_handle::<OrderSaga>(order_id);
        let update = handle.execute_update(RetryNow, (), WorkflowExecuteUpdateOptions::default());
        update_answer(tokio::time::timeout(DECISION_TIMEOUT, update).await)
    }
}

/// A saga that has ended, as visibility lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSaga {
    pub started: SystemTime,
    pub ended: SystemTime,
    /// `None`: ended by Temporal (terminated, failed, timed out), not by the saga.
    pub outcome: Option<SagaOutcome>,
}

/// The `SagaOutcome` search attribute of a listed saga (search attributes are stored
/// as JSON, never through the payload codec).
fn outcome_of(execution: &WorkflowExecution) -> Option<SagaOutcome> {
    let payload = execution
        .raw()
        .search_attributes
        .as_ref()?
        .indexed_fields
        .get(OUTCOME_SEARCH_ATTRIBUTE)?;
    let value: String = serde_json::from_slice(&payload.data).ok()?;
    SagaOutcome::parse(&value)
}

/// The `reservation` update's answer within the wait: none in time, or none because
/// the saga has ended, leaves the client to follow the order.
fn reservation_answer(
    answer: Result<Result<ReservationOutcome, WorkflowUpdateError>, tokio::time::error::Elapsed>,
) -> Result<Checkout, Problem> {
    match answer {
        Ok(Ok(outcome)) => Ok(outcome.into()),
        Ok(Err(WorkflowUpdateError::NotFound(_))) | Err(_) => Ok(Checkout::Pending),
        Ok(Err(error)) => Err(unavailable("reservation", error)),
    }
}

/// A decision's answer: the saga's status, its validator's refusal (409), or no saga
/// to take it (409 `order-closed`).
fn update_answer(
    answer: Result<Result<SagaStatus, WorkflowUpdateError>, tokio::time::error::Elapsed>,
) -> Result<SagaStatus, Problem> {
    match answer {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(WorkflowUpdateError::Failed(failure))) => Err(decision_refused(&failure.message)),
        // Unknown, or finished: either way nothing is listening any more.
        Ok(Err(WorkflowUpdateError::NotFound(_))) => Err(order_closed()),
        Ok(Err(error)) => Err(unavailable("update", error)),
        Err(_) => Err(unavailable("update", "no worker took the decision in time")),
    }
}

/// A refusal of the saga's validator, passed on; anything else a failure may say stays
/// in the log.
fn decision_refused(message: &str) -> Problem {
    let detail = refusals::ALL
        .into_iter()
        .find(|refusal| *refusal == message)
        .unwrap_or_else(|| {
            tracing::warn!(message, "temporal: decision failed");
            "The decision cannot be applied now."
        });
    Problem::conflict("decision-refused", "Decision refused", detail)
}

pub fn order_closed() -> Problem {
    Problem::conflict(
        "order-closed",
        "Order closed",
        "The order is no longer being processed.",
    )
}
