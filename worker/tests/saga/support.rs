//! The real stack for saga tests: the services (`worker::testing::Services`, the
//! gateway's tests use them too), a worker on a task queue of its own, and a client of
//! the Temporal dev server.
//!
//! `infra/test.sh` starts DynamoDB Local and the dev server and exports their addresses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use service_kit::testing::eventually;
use worker::testing::ServiceOptions;
pub use worker::testing::{InProcessWorker, Services, Wrap};

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use futures::TryStreamExt;
use saga_contract::temporal;
use saga_contract::{
    ApprovalPolicy, AttentionReason, Decider, DeciderRole, Decision, DecisionAction, OrderDecision,
    OrderLine, SagaInput, SagaResult, SagaStatus,
};
use serde_json::Value;
use service_kit::testing;
use service_kit::{payload_codec, services};
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowListOptions, WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::SignalDefinition;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use tokio::sync::Semaphore;
use worker::breaker::BreakerSettings;
use worker::config::WorkerConfig;
use worker::workflow::OrderSaga;

/// How long a saga may take in these tests before they give up on it.
pub const SAGA_DEADLINE: Duration = Duration::from_secs(120);
/// `card_slow` in these tests.
pub const SLOW_CARD_DELAY: Duration = Duration::from_secs(3);
pub const CUSTOMER: &str = "c-1";
/// The staff member who reviews in these tests.
pub const REVIEWER: &str = "staff-1";

pub fn reviewer() -> Decider {
    Decider {
        id: REVIEWER.to_owned(),
        role: DeciderRole::Admin,
    }
}

pub struct Stack {
    /// The services (without the customer service's part in the saga).
    pub services: Services,
    pub task_queue: String,
    pub client: Client,
    pub breaker: BreakerSettings,
}

/// A saga test reaches the services as `stack.payment`, `stack.add_product(..)`.
impl std::ops::Deref for Stack {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(HashMap::new()).await
    }

    /// Starts the services, wrapping those named in `wraps`.
    pub async fn start_with(wraps: HashMap<&'static str, Wrap>) -> Self {
        let options = ServiceOptions {
            slow_card: SLOW_CARD_DELAY,
            wraps,
            ..ServiceOptions::default()
        };
        Self {
            services: Services::start(&testing::dynamo().await, options).await,
            task_queue: format!("saga-test-{}", uuid::Uuid::new_v4().simple()),
            client: worker::connect_with(Some(payload_codec::test_keys()))
                .await
                .expect("connect to the Temporal dev server"),
            breaker: BreakerSettings {
                failure_threshold: 3,
                cool_down: Duration::from_secs(2),
            },
        }
    }

    pub fn worker_config(&self) -> WorkerConfig {
        self.services.worker_config(&self.task_queue, self.breaker)
    }

    /// (charged, refunded) of an order; zeros when it has no payment at all.
    pub async fn ledger(&self, order_id: &str) -> (u64, u64) {
        let reply = self.payment.get(&format!("/payments/{order_id}")).await;
        if reply.status == 404 {
            return (0, 0);
        }
        let ledger = reply.expect(200);
        (
            ledger["charged"].as_u64().expect("charged"),
            ledger["refunded"].as_u64().expect("refunded"),
        )
    }

    pub async fn order(&self, order_id: &str) -> Value {
        self.order
            .get(&format!("/orders/{order_id}"))
            .await
            .expect(200)
    }

    pub async fn notifications(&self, user: &str) -> Vec<Value> {
        let page = self
            .notification
            .get(&format!("/users/{user}/notifications?limit=100"))
            .await
            .expect(200);
        page["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn start_saga(&self, input: &SagaInput) {
        self.client
            .start_workflow(
                OrderSaga::run,
                input.clone(),
                WorkflowStartOptions::new(self.task_queue.clone(), input.order_id.clone()).build(),
            )
            .await
            .expect("start the saga");
    }

    pub async fn result(&self, order_id: &str) -> SagaResult {
        let handle = self.client.get_workflow_handle::<OrderSaga>(order_id);
        tokio::time::timeout(
            SAGA_DEADLINE,
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .unwrap_or_else(|_| panic!("saga {order_id} did not finish within {SAGA_DEADLINE:?}"))
        .expect("saga result")
    }

    pub async fn status(&self, order_id: &str) -> SagaStatus {
        self.client
            .get_workflow_handle::<OrderSaga>(order_id)
            .query(OrderSaga::status, (), WorkflowQueryOptions::default())
            .await
            .expect("query the saga")
    }

    /// Polls until the saga awaits approval, and returns its status then.
    pub async fn awaiting_approval(&self, order_id: &str) -> SagaStatus {
        eventually(
            Duration::from_secs(30),
            "the saga to await approval",
            || async {
                let status = self.status(order_id).await;
                (status.phase == saga_contract::SagaPhase::AwaitingApproval).then_some(status)
            },
        )
        .await
    }

    /// The saga's history, every event.
    pub async fn history(&self, order_id: &str) -> Vec<HistoryEvent> {
        self.client
            .get_workflow_handle::<OrderSaga>(order_id)
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .expect("fetch history")
    }

    /// Whether visibility lists `order_id` among the sagas whose search `attribute` is
    /// `value`.
    pub async fn is_listed(&self, order_id: &str, attribute: &str, value: &str) -> bool {
        let ids: Vec<String> = self
            .client
            .list_workflows(
                format!("{attribute} = '{value}'"),
                WorkflowListOptions::default(),
            )
            .map_ok(|execution| execution.id().to_owned())
            .try_collect()
            .await
            .expect("list workflows");
        ids.iter().any(|id| id == order_id)
    }

    /// Whether visibility lists the saga as needing attention: a stuck compensation.
    pub async fn listed_as_stuck(&self, order_id: &str) -> bool {
        self.is_listed(
            order_id,
            saga_contract::ATTENTION_SEARCH_ATTRIBUTE,
            AttentionReason::CompensationStuck.as_str(),
        )
        .await
    }

    /// Sends a decision as the gateway does: the contract's `decide` update, by the
    /// [`REVIEWER`] for a review and by the [`CUSTOMER`] for a cancellation.
    pub async fn decide(
        &self,
        order_id: &str,
        action: DecisionAction,
        reason: Option<&str>,
    ) -> Result<SagaStatus, WorkflowUpdateError> {
        let decider = match action {
            DecisionAction::Cancel => Decider {
                id: CUSTOMER.to_owned(),
                role: DeciderRole::Customer,
            },
            DecisionAction::Approve | DecisionAction::Reject => reviewer(),
        };
        let decision = OrderDecision {
            action,
            reason: reason.map(str::to_owned),
            decided_by: Some(decider),
        };
        self.send_decision(order_id, decision).await
    }

    /// Sends `decision` as it is, whoever it names (or none).
    pub async fn send_decision(
        &self,
        order_id: &str,
        decision: OrderDecision,
    ) -> Result<SagaStatus, WorkflowUpdateError> {
        self.client
            .get_workflow_handle::<temporal::OrderSaga>(order_id)
            .execute_update(
                temporal::Decide,
                decision,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
    }

    /// Signals approval as the gateway did before reviews were updates (and as
    /// `temporal workflow signal` still may): ignored since signed reviews.
    pub async fn approve(&self, order_id: &str) {
        self.client
            .get_workflow_handle::<temporal::OrderSaga>(order_id)
            .signal(temporal::Approve, (), WorkflowSignalOptions::default())
            .await
            .expect("signal approve");
    }

    pub async fn reject(&self, order_id: &str, reason: &str) {
        self.signal_decision(order_id, temporal::Reject, reason)
            .await;
    }

    /// The customer cancels through the `decide` update ("changed my mind"), which is
    /// accepted: answers the saga's status then.
    pub async fn customer_cancels(&self, order_id: &str) -> SagaStatus {
        self.decide(order_id, DecisionAction::Cancel, Some("changed my mind"))
            .await
            .expect("the customer's cancellation is accepted")
    }

    pub async fn cancel(&self, order_id: &str, reason: &str) {
        self.signal_decision(order_id, temporal::Cancel, reason)
            .await;
    }

    /// Sends a decision signal (`reject`, `cancel`) with its reason.
    async fn signal_decision<S>(&self, order_id: &str, signal: S, reason: &str)
    where
        S: SignalDefinition<Workflow = temporal::OrderSaga, Input = Decision>,
    {
        let name = signal.name().to_owned();
        let decision = Decision {
            reason: Some(reason.to_owned()),
        };
        self.client
            .get_workflow_handle::<temporal::OrderSaga>(order_id)
            .signal(signal, decision, WorkflowSignalOptions::default())
            .await
            .unwrap_or_else(|error| panic!("signal {name}: {error}"));
    }

    /// Saves the saga's history under `worker/tests/histories/<name>.json` when
    /// `RECORD_HISTORIES` is set; the replay test replays every file there.
    pub async fn record_history(&self, order_id: &str, name: &str) {
        if std::env::var_os("RECORD_HISTORIES").is_none() {
            return;
        }
        let json = self
            .client
            .get_workflow_handle::<OrderSaga>(order_id)
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .to_json()
            .await
            .expect("fetch history");
        std::fs::write(histories_dir().join(format!("{name}.json")), json).expect("save history");
    }
}

/// A worker running as its own process (the real binary), killed with SIGKILL on drop.
pub struct WorkerProcess(Child);

impl WorkerProcess {
    pub fn start(config: &WorkerConfig) -> Self {
        Self::spawn(config, Stdio::null(), "warn")
    }

    /// A worker whose log (at `info`) goes to `log`.
    pub fn start_logging_to(config: &WorkerConfig, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("create the worker's log file");
        Self::spawn(config, Stdio::from(file), "info")
    }

    fn spawn(config: &WorkerConfig, stdout: Stdio, level: &str) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_worker"))
            .env("TASK_QUEUE", &config.task_queue)
            .envs(services::url_variables(&config.services))
            .env("WORKER_STATUS_ADDR", "")
            .env("PAYLOAD_KEYS", payload_codec::test_ring_json())
            .env("RUST_LOG", level)
            .env("LOG_FORMAT", "text")
            .stdout(stdout)
            .spawn()
            .expect("start the worker binary");
        Self(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL: no graceful shutdown, in-flight activities are simply lost.
    pub fn kill(&mut self) {
        self.0.kill().expect("SIGKILL the worker");
        self.0.wait().expect("reap the worker");
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; `None` if it
    /// is still running then.
    pub fn terminate(&mut self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        while started.elapsed() < within {
            if self.0.try_wait().expect("poll the worker").is_some() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("read the worker's /proc stat");
        // Fields after the parenthesised command name; utime and stime are the 14th
        // and 15th fields of the line, in clock ticks (USER_HZ, 100 on Linux).
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<u64> = after_name
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().expect("a tick count"))
            .collect();
        Duration::from_millis((fields[0] + fields[1]) * 10)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The statuses of an order's history (the order service's answer), oldest first.
pub fn statuses(order: &Value) -> Vec<&str> {
    testing::each_str(&order["history"], "status")
}

pub fn histories_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

/// Holds `method` requests whose path ends with `suffix` until the test releases them
/// (adds permits to `gate`), counting those that `arrived`.
pub fn hold(
    method: Method,
    suffix: &'static str,
    gate: Arc<Semaphore>,
    arrived: Arc<AtomicUsize>,
) -> Wrap {
    Box::new(move |router: Router| {
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let gate = gate.clone();
            let arrived = arrived.clone();
            let held = request.method() == method && request.uri().path().ends_with(suffix);
            async move {
                if held {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let _permit = gate.acquire().await.expect("the gate stays open");
                }
                next.run(request).await
            }
        }))
    })
}

/// A saga input for `lines` of (sku, quantity, unit price).
pub fn saga(order_id: &str, lines: &[(&str, u32, u64)], method: &str) -> SagaInput {
    SagaInput {
        order_id: order_id.to_owned(),
        customer_id: CUSTOMER.to_owned(),
        lines: lines
            .iter()
            .map(|&(sku, quantity, unit_price)| OrderLine {
                sku: sku.to_owned(),
                quantity,
                unit_price,
            })
            .collect(),
        currency: "EUR".to_owned(),
        payment_method: method.to_owned(),
        approval: ApprovalPolicy {
            threshold: 100_000,
            timeout_secs: 900,
        },
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
