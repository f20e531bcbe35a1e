//! `saga-bench`: what one order saga costs, and how many the stack runs.
//!
//! 1. **Per saga**: `BENCH_PER_SAGA` sagas of each path (the happy path, and a declined
//!    card that compensates) one after another, each started as the gateway starts it
//!    (Update-with-Start with the `reservation` update) and each for a new customer.
//!    From the metering proxy at `METER_URL` (`bench::meter`): DynamoDB requests by
//!    operation with their capacity units, and service calls; from each history:
//!    events, workflow tasks, activities, local activities and Temporal Cloud actions;
//!    from `/proc`: the worker's CPU time; from the log files of `BENCH_LOGS`
//!    (`name=path` pairs): the bytes logged. Then the cost of a million orders.
//! 2. **Throughput**: `BENCH_SAGAS` sagas at concurrency `BENCH_CONCURRENCY` against,
//!    in the same run and on the same Temporal server, as many workflows of
//!    [`BASELINE_ACTIVITIES`] no-op activities, each after a warm-up; throughput and
//!    p50/p99 latency, their ratio, and the CPU time each process of `BENCH_PROCESSES`
//!    (`name=pid` pairs, with their children) spent in each phase.
//!
//! `infra/bench-saga.sh` sets up the stack and runs it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bench::cost::{self, Prices, SagaUsage};
use bench::meter::Tally;
use bench::procs::{self, Watched};
use bench::{LoadReport, load, peak_rss};
use prost::Message;
use saga_contract::temporal::{OrderSaga as SagaDefinition, Reservation};
use saga_contract::{
    ApprovalPolicy, OrderLine, Outcome, RESERVATION_UPDATE, SagaInput, SagaResult,
};
use serde_json::json;
use service_kit::config::{optional, required};
use service_kit::serve::BoxError;
use temporalio_client::{
    Client, RpcOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowIdConflictPolicy, WorkflowStartOptions, WorkflowUpdateWithStartOptions,
};
use temporalio_common::protos::temporal::api::history::v1::{History, HistoryEvent};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use worker::bench::{NoopActivities, NoopWorkflow};
use worker::history::{self, HistoryFigures};

/// The baseline workflow's activities: the saga's count before it ran its short steps
/// as local activities, kept fixed so that runs of every version compare.
const BASELINE_ACTIVITIES: u32 = 12;

/// Orders spread over this many products and customers, as a shop's orders do; one hot
/// item or one customer with every order would measure contention on that item.
const SPREAD: usize = 100;

struct Bench {
    client: Client,
    /// The queue of the worker whose services are metered, for the per-saga figures.
    metered_queue: String,
    /// The queue of the worker whose services are not, for the throughput.
    task_queue: String,
    run_id: String,
    meter: String,
    http: reqwest::Client,
    processes: Watched,
    logs: Vec<(String, String)>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    service_kit::telemetry::init("saga-bench");
    let sagas: usize = optional("BENCH_SAGAS", 200)?;
    let concurrency: usize = optional("BENCH_CONCURRENCY", 50)?;
    let warmup: usize = optional("BENCH_WARMUP", 20)?;
    let per_saga: usize = optional("BENCH_PER_SAGA", 20)?;
    let inventory = required("INVENTORY_URL")?;
    let processes = Watched::parse(&optional("BENCH_PROCESSES", String::new())?)?;
    let bench = Bench {
        client: worker::connect().await?,
        metered_queue: required("METERED_TASK_QUEUE")?,
        task_queue: optional("TASK_QUEUE", saga_contract::DEFAULT_TASK_QUEUE.to_owned())?,
        run_id: uuid::Uuid::new_v4().simple().to_string(),
        meter: required("METER_URL")?,
        http: reqwest::Client::new(),
        processes,
        logs: pairs(&optional("BENCH_LOGS", String::new())?)?,
    };
    create_products(&bench.http, &inventory).await?;
    let runtime = Runtime::from_current_tokio(Default::default())?;

    // Warm the worker and the services before anything is measured.
    let warm = |i| {
        bench.saga(
            &bench.metered_queue,
            format!("warm-metered-{i}"),
            i,
            "card_approve",
        )
    };
    load(warmup, concurrency, warm).await;
    let happy = bench
        .per_saga("happy path", "card_approve", per_saga)
        .await?;
    let compensated = bench
        .per_saga("compensated (declined card)", "card_decline", per_saga)
        .await?;
    print_per_saga(&[&happy, &compensated]);
    print_cost(&happy);

    let throughput = bench
        .throughput(&runtime, sagas, concurrency, warmup)
        .await?;
    println!(
        "saga benchmark: {sagas} runs at concurrency {concurrency}; baseline: {BASELINE_ACTIVITIES} no-op activities; Temporal dev server in memory"
    );
    throughput.print(sagas);
    if let Some(pid) = bench.processes.pid("worker") {
        let rss_mb = peak_rss(pid)? as f64 / (1024.0 * 1024.0);
        println!(
            "worker peak RSS: {rss_mb:.1} MB  (target <= 64 MB: {})",
            verdict(rss_mb <= 64.0)
        );
    }
    let failed = throughput.baseline.failed + throughput.measured.failed;
    if failed > 0 {
        return Err(format!("{failed} runs failed").into());
    }
    Ok(())
}

/// What one path of the saga cost, per saga.
struct PerSaga {
    path: &'static str,
    sagas: usize,
    history: HistoryFigures,
    /// The largest value of any figure, where sagas of a path differed.
    history_max: HistoryFigures,
    history_bytes: f64,
    tally: Tally,
    worker_cpu: Duration,
    log_bytes: f64,
    latency: LoadReport,
}

impl Bench {
    /// One saga started as the gateway starts a checkout, to its end.
    async fn saga(&self, queue: &str, name: String, i: usize, card: &str) -> Result<(), String> {
        let order_id = format!("bench-{}-{name}", self.run_id);
        let customer = format!("bench-customer-{}", i % SPREAD);
        self.run_saga(queue, order_id, customer, i, card)
            .await
            .map(drop)
    }

    async fn run_saga(
        &self,
        queue: &str,
        order_id: String,
        customer_id: String,
        i: usize,
        card: &str,
    ) -> Result<SagaResult, String> {
        let input = SagaInput {
            order_id: order_id.clone(),
            customer_id,
            lines: vec![OrderLine {
                sku: sku(i),
                quantity: 1,
                unit_price: 100,
            }],
            currency: "EUR".to_owned(),
            payment_method: card.to_owned(),
            approval: ApprovalPolicy::default(),
        };
        let options = WorkflowUpdateWithStartOptions::new(
            queue.to_owned(),
            order_id.clone(),
            WorkflowIdConflictPolicy::UseExisting,
        )
        .update_id(RESERVATION_UPDATE)
        .build();
        let update = self
            .client
            .start_update_with_start_workflow(SagaDefinition, input, Reservation, (), options)
            .await
            .map_err(|e| e.to_string())?;
        update
            .get_result(RpcOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let result: SagaResult = self
            .client
            .get_workflow_handle::<SagaDefinition>(&order_id)
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let expected = if card == "card_approve" {
            Outcome::Completed
        } else {
            Outcome::Cancelled
        };
        if result.outcome != expected {
            return Err(format!(
                "saga {order_id} ended {:?}: {:?}",
                result.outcome, result.reason
            ));
        }
        Ok(result)
    }

    async fn tally(&self) -> Result<Tally, BoxError> {
        Ok(self
            .http
            .get(format!("{}/tally", self.meter))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    fn log_sizes(&self) -> Vec<u64> {
        self.logs
            .iter()
            .map(|(_, path)| std::fs::metadata(path).map_or(0, |m| m.len()))
            .collect()
    }

    /// `count` sagas of one path, one after another, each for a new customer (whose
    /// feed no service has seen yet: a cold start for its notifications).
    async fn per_saga(
        &self,
        path: &'static str,
        card: &str,
        count: usize,
    ) -> Result<PerSaga, BoxError> {
        let tally_before = self.tally().await?;
        let cpu_before = self.processes.cpu_times();
        let logs_before = self.log_sizes();
        let mut ids = Vec::new();
        let mut latencies = Vec::new();
        let started = Instant::now();
        for i in 0..count {
            let order_id = format!("bench-{}-{card}-{i}", self.run_id);
            let customer = format!("bench-{}-{card}-customer-{i}", self.run_id);
            let began = Instant::now();
            self.run_saga(&self.metered_queue, order_id.clone(), customer, i, card)
                .await?;
            latencies.push(began.elapsed());
            ids.push(order_id);
        }
        let elapsed = started.elapsed();
        let tally = self.tally().await?.since(&tally_before);
        let cpu = procs::spent(&cpu_before, &self.processes.cpu_times());
        let log_bytes: u64 = self
            .log_sizes()
            .iter()
            .zip(&logs_before)
            .map(|(after, before)| after.saturating_sub(*before))
            .sum();
        let mut histories = Vec::new();
        for id in &ids {
            histories.push(self.history(id).await?);
        }
        let figures: Vec<HistoryFigures> = histories.iter().map(|h| history::figures(h)).collect();
        let history_bytes = histories
            .iter()
            .map(|events| {
                History {
                    events: events.clone(),
                }
                .encoded_len() as f64
            })
            .sum::<f64>()
            / count as f64;
        latencies.sort_unstable();
        Ok(PerSaga {
            path,
            sagas: count,
            history: figures[0],
            history_max: max_figures(&figures),
            history_bytes,
            tally,
            worker_cpu: cpu
                .iter()
                .find(|(name, _)| name == "metered-worker")
                .map_or(Duration::ZERO, |(_, t)| *t),
            log_bytes: log_bytes as f64 / count as f64,
            latency: LoadReport {
                completed: count,
                failed: 0,
                elapsed,
                latencies,
            },
        })
    }

    async fn history(&self, workflow_id: &str) -> Result<Vec<HistoryEvent>, BoxError> {
        Ok(self
            .client
            .get_workflow_handle::<SagaDefinition>(workflow_id)
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await?)
    }
}

fn max_figures(all: &[HistoryFigures]) -> HistoryFigures {
    all.iter()
        .fold(HistoryFigures::default(), |max, f| HistoryFigures {
            events: max.events.max(f.events),
            workflow_tasks: max.workflow_tasks.max(f.workflow_tasks),
            activities: max.activities.max(f.activities),
            local_activities: max.local_activities.max(f.local_activities),
            billable_actions: max.billable_actions.max(f.billable_actions),
        })
}

impl PerSaga {
    fn per(&self, total: f64) -> f64 {
        total / self.sagas as f64
    }

    fn usage(&self) -> SagaUsage {
        SagaUsage {
            actions: self.history.billable_actions as f64,
            history_bytes: self.history_bytes,
            read_units: self.per(self.tally.read_units()),
            write_units: self.per(self.tally.write_units()),
            invocations: self.per(self.tally.service_calls() as f64),
            invocation_ms: self.tally.mean_call_millis(),
            worker_cpu_seconds: self.per(self.worker_cpu.as_secs_f64()),
            log_bytes: self.log_bytes,
        }
    }
}

/// One figure per saga of each path, side by side.
fn print_per_saga(paths: &[&PerSaga]) {
    println!(
        "\nper saga ({} sagas of each path, one at a time, each for a new customer):",
        paths[0].sagas
    );
    let header: Vec<&str> = paths.iter().map(|p| p.path).collect();
    println!(
        "  {:<38} {}",
        "",
        header
            .iter()
            .map(|h| format!("{h:>34}"))
            .collect::<String>()
    );
    // A row: `value` of each path.
    let row = |name: &str, value: &dyn Fn(&PerSaga) -> String| {
        println!(
            "  {name:<38} {}",
            paths
                .iter()
                .map(|p| format!("{:>34}", value(p)))
                .collect::<String>()
        );
    };
    let figure = |f: fn(&HistoryFigures) -> usize| {
        move |p: &PerSaga| range(f(&p.history), f(&p.history_max))
    };
    row("history events", &figure(|h| h.events));
    row("workflow tasks", &figure(|h| h.workflow_tasks));
    row("activities (task queue)", &figure(|h| h.activities));
    row("local activities", &figure(|h| h.local_activities));
    row(
        "billable Temporal Cloud actions",
        &figure(|h| h.billable_actions as usize),
    );
    row("history size", &|p| format!("{:.0} B", p.history_bytes));
    let operations: BTreeMap<&String, ()> = paths
        .iter()
        .flat_map(|p| p.tally.dynamodb.keys())
        .map(|op| (op, ()))
        .collect();
    row("DynamoDB requests", &|p| {
        format!(
            "{:.1} ({:.1} transactions)",
            p.per(p.tally.dynamodb_requests() as f64),
            p.per(p.tally.transactions() as f64)
        )
    });
    for op in operations.keys() {
        row(&format!("  {op}"), &|p| {
            let t = p.tally.dynamodb.get(*op).copied().unwrap_or_default();
            format!(
                "{:.1} ({:.1} RCU, {:.1} WCU)",
                p.per(t.requests as f64),
                p.per(t.read_units),
                p.per(t.write_units)
            )
        });
    }
    row("read / write capacity units", &|p| {
        format!(
            "{:.1} / {:.1}",
            p.per(p.tally.read_units()),
            p.per(p.tally.write_units())
        )
    });
    let tables: BTreeMap<&String, ()> = paths
        .iter()
        .flat_map(|p| p.tally.tables.keys())
        .map(|table| (table, ()))
        .collect();
    for table in tables.keys() {
        row(&format!("  {table}"), &|p| {
            let t = p.tally.tables.get(*table).copied().unwrap_or_default();
            format!(
                "{:.1} units ({:.1} indexes)",
                p.per(t.units),
                p.per(t.index_units)
            )
        });
    }
    row("service calls (Lambda invocations)", &|p| {
        let calls: Vec<String> = p
            .tally
            .calls
            .iter()
            .map(|(service, c)| format!("{} {:.1}", &service[..1], p.per(c.requests as f64)))
            .collect();
        format!(
            "{:.1} ({})",
            p.per(p.tally.service_calls() as f64),
            calls.join(" ")
        )
    });
    row("mean service call", &|p| {
        format!("{:.1} ms", p.tally.mean_call_millis())
    });
    row("worker CPU", &|p| {
        format!("{:.1} ms", p.per(p.worker_cpu.as_secs_f64() * 1000.0))
    });
    row("log lines written (services, worker)", &|p| {
        format!("{:.0} B", p.log_bytes)
    });
    row("latency, one at a time: p50 / p99", &|p| {
        format!(
            "{:.0} / {:.0} ms",
            p.latency.quantile(0.5).as_secs_f64() * 1000.0,
            p.latency.quantile(0.99).as_secs_f64() * 1000.0
        )
    });
}

fn range(min: usize, max: usize) -> String {
    if min == max {
        min.to_string()
    } else {
        format!("{min}-{max}")
    }
}

fn print_cost(happy: &PerSaga) {
    let cost = cost::million_orders(&happy.usage(), &Prices::US_EAST_1);
    println!("\ncost of a million orders on the happy path, list prices us-east-1 (docs/cost.md):");
    for (part, dollars) in cost.parts() {
        println!("  {part:<38} {dollars:>10.2} USD");
    }
    println!("  {:<38} {:>10.2} USD\n", "total", cost.total());
}

/// The throughput phase's reports, and the CPU each process spent in each phase.
struct Throughput {
    baseline: LoadReport,
    measured: LoadReport,
    baseline_cpu: Vec<(String, Duration)>,
    saga_cpu: Vec<(String, Duration)>,
}

impl Bench {
    async fn throughput(
        &self,
        runtime: &Runtime,
        sagas: usize,
        concurrency: usize,
        warmup: usize,
    ) -> Result<Throughput, BoxError> {
        let noop_queue = format!("bench-noop-{}", self.run_id);
        let mut noop_worker = noop_worker(runtime, &self.client, &noop_queue)?;
        let stop_noop_worker = noop_worker.shutdown_handle();
        let noop = |i: usize, phase: &'static str| {
            let id = format!("noop-{}-{phase}-{i}", self.run_id);
            run_noop(self.client.clone(), noop_queue.clone(), id)
        };
        let driver = async {
            load(warmup, concurrency, |i| noop(i, "warmup")).await;
            load(warmup, concurrency, |i| {
                self.saga(&self.task_queue, format!("warm-{i}"), i, "card_approve")
            })
            .await;
            let before = self.processes.cpu_times();
            let baseline = load(sagas, concurrency, |i| noop(i, "run")).await;
            let middle = self.processes.cpu_times();
            let measured = load(sagas, concurrency, |i| {
                self.saga(&self.task_queue, format!("run-{i}"), i, "card_approve")
            })
            .await;
            let after = self.processes.cpu_times();
            stop_noop_worker();
            Throughput {
                baseline,
                measured,
                baseline_cpu: procs::spent(&before, &middle),
                saga_cpu: procs::spent(&middle, &after),
            }
        };
        let (worker_result, throughput) = tokio::join!(noop_worker.run(), driver);
        worker_result?;
        Ok(throughput)
    }
}

impl Throughput {
    fn print(&self, runs: usize) {
        print_row("baseline (no-op activities)", &self.baseline);
        print_row("order saga", &self.measured);
        let ratio = self.measured.throughput() / self.baseline.throughput();
        println!(
            "throughput ratio saga/baseline: {ratio:.2}  (target >= 0.70: {})",
            verdict(ratio >= 0.7)
        );
        println!(
            "p99 ratio saga/baseline: {:.2}",
            self.measured.quantile(0.99).as_secs_f64() / self.baseline.quantile(0.99).as_secs_f64()
        );
        if self.saga_cpu.is_empty() {
            return;
        }
        println!("CPU time by process: baseline phase, saga phase, per saga:");
        for ((name, base), (_, saga)) in self.baseline_cpu.iter().zip(&self.saga_cpu) {
            println!(
                "  {name:<14} {:>7.1} s {:>7.1} s {:>7.1} ms",
                base.as_secs_f64(),
                saga.as_secs_f64(),
                saga.as_secs_f64() * 1000.0 / runs as f64
            );
        }
    }
}

/// The products the orders spread over, with stock that no run exhausts.
async fn create_products(http: &reqwest::Client, inventory: &str) -> Result<(), BoxError> {
    for i in 0..SPREAD {
        let product = json!({"sku": sku(i), "name": "Benchmark item", "price": 100, "currency": "EUR", "available": 1_000_000});
        let created = http
            .post(format!("{inventory}/products"))
            .json(&product)
            .send()
            .await?
            .status();
        if !created.is_success() {
            return Err(format!("creating a benchmark product answered {created}").into());
        }
    }
    Ok(())
}

/// The baseline's worker, in this process and on its own task queue: the saga's worker
/// runs only sagas, so its peak RSS and CPU time are the saga's alone.
fn noop_worker(runtime: &Runtime, client: &Client, queue: &str) -> Result<Worker, BoxError> {
    let options = WorkerOptions::new(queue.to_owned())
        .register_workflow::<NoopWorkflow>()?
        .register_activities(NoopActivities)
        .build();
    Ok(Worker::new(runtime, client.clone(), options)?)
}

async fn run_noop(client: Client, queue: String, id: String) -> Result<(), String> {
    let handle = client
        .start_workflow(
            NoopWorkflow::run,
            BASELINE_ACTIVITIES,
            WorkflowStartOptions::new(queue, id).build(),
        )
        .await
        .map_err(|e| e.to_string())?;
    handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn sku(i: usize) -> String {
    format!("BENCH-{}", i % SPREAD)
}

/// `name=value` pairs separated by whitespace.
fn pairs(spec: &str) -> Result<Vec<(String, String)>, String> {
    spec.split_whitespace()
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .ok_or_else(|| format!("{pair:?}: expected name=value"))
        })
        .collect()
}

fn print_row(name: &str, report: &LoadReport) {
    println!(
        "{name:<28} {:>7.1} workflows/s   p50 {:>6.0} ms   p99 {:>6.0} ms   ({} ok, {} failed, {:.1} s)",
        report.throughput(),
        report.quantile(0.5).as_secs_f64() * 1000.0,
        report.quantile(0.99).as_secs_f64() * 1000.0,
        report.completed,
        report.failed,
        report.elapsed.as_secs_f64()
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
