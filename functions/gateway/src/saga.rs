//! The gateway's side of the order saga: start it, signal it, ask where it stands.
//!
//! The Temporal client is created once per instance (at the first call, so a cold
//! start does not wait for it) and reused for every invocation. The connection comes
//! from the SDK's standard environment, like the worker's: Temporal Cloud-ready. Its
//! payloads are encrypted with the worker's key ring (`service_kit::payload_codec`).

use std::sync::Arc;

use saga_contract::temporal::{Approve, Cancel, OrderSaga, Reject, Status};
use saga_contract::{Decision, SagaInput, SagaStatus};
use service_kit::Problem;
use service_kit::payload_codec::{self, PayloadKeys};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::errors::{WorkflowInteractionError, WorkflowStartError};
use temporalio_client::{
    Client, ClientOptions, Connection, WorkflowDescribeOptions, WorkflowExecutionStatus,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowQueryOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};
use tokio::sync::OnceCell;

pub struct Sagas {
    client: OnceCell<Client>,
    task_queue: String,
    /// The key ring of the saga's payloads (`None`: payloads in clear, local only).
    payload_keys: Option<Arc<PayloadKeys>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    /// A saga with this id exists (running or finished): the request was a repeat.
    Existing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Approve,
    Reject,
    Cancel,
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
        }
    }

    pub fn payload_keys(&self) -> Option<&Arc<PayloadKeys>> {
        self.payload_keys.as_ref()
    }

    async fn client(&self) -> Result<&Client, Problem> {
        self.client
            .get_or_try_init(|| async {
                let (connection, mut options) =
                    ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
                        .map_err(|e| unavailable("settings", e))?;
                options.data_converter = payload_codec::data_converter(self.payload_keys.clone());
                let connection = Connection::connect(connection)
                    .await
                    .map_err(|e| unavailable("connect", e))?;
                Client::new(connection, options).map_err(|e| unavailable("client", e))
            })
            .await
    }

    /// Starts the saga under its order id. Starting an id that exists, running or
    /// finished, starts nothing: this is what makes order creation idempotent.
    pub async fn start(&self, input: SagaInput) -> Result<Started, Problem> {
        let client = self.client().await?;
        let options = WorkflowStartOptions::new(self.task_queue.clone(), input.order_id.clone())
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .build();
        match client.start_workflow(OrderSaga, input, options).await {
            Ok(_) => Ok(Started::New),
            Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(Started::Existing),
            Err(error) => Err(unavailable("start", error)),
        }
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

    pub async fn signal(
        &self,
        order_id: &str,
        kind: SignalKind,
        reason: Option<String>,
    ) -> Result<(), Problem> {
        let client = self.client().await?;
        let handle = client.get_workflow_handle::<OrderSaga>(order_id);
        let options = WorkflowSignalOptions::default();
        let decision = Decision { reason };
        let result = match kind {
            SignalKind::Approve => handle.signal(Approve, (), options).await,
            SignalKind::Reject => handle.signal(Reject, decision, options).await,
            SignalKind::Cancel => handle.signal(Cancel, decision, options).await,
        };
        result.map_err(|error| match error {
            // Unknown, or finished: either way nothing is listening any more.
            WorkflowInteractionError::NotFound(_) => order_closed(),
            error => unavailable("signal", error),
        })
    }
}

pub fn order_closed() -> Problem {
    Problem::conflict(
        "order-closed",
        "Order closed",
        "The order is no longer being processed.",
    )
}
