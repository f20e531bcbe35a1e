//! `saga-bench`: runs `BENCH_SAGAS` sagas at concurrency `BENCH_CONCURRENCY` through the
//! real stack (the worker process `WORKER_PID` on `TASK_QUEUE`, the services, DynamoDB
//! Local), and, in the same run and on the same Temporal server, as many baseline
//! workflows made of the same number of no-op activities. Prints throughput, p50/p99
//! end-to-end latency, their ratios, and the worker's peak RSS.
//! `infra/bench-saga.sh` sets up the stack and runs it.

use bench::{LoadReport, load, peak_rss};
use saga_contract::{ApprovalPolicy, OrderLine, Outcome, SagaInput};
use serde_json::json;
use service_kit::config::{optional, required};
use service_kit::serve::BoxError;
use temporalio_client::{
    Client, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use worker::bench::{NoopActivities, NoopWorkflow};
use worker::workflow::OrderSaga;

/// Orders spread over this many products and customers, as a shop's orders do; one hot
/// item or one customer with every order would measure contention on that item.
const SPREAD: usize = 100;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    service_kit::telemetry::init();
    let sagas: usize = optional("BENCH_SAGAS", 200)?;
    let concurrency: usize = optional("BENCH_CONCURRENCY", 50)?;
    let warmup: usize = optional("BENCH_WARMUP", 20)?;
    let task_queue: String = optional("TASK_QUEUE", saga_contract::DEFAULT_TASK_QUEUE.to_owned())?;
    let worker_pid: u32 = required("WORKER_PID")?.parse()?;
    let inventory = required("INVENTORY_URL")?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    create_products(&inventory).await?;

    let runtime = Runtime::from_current_tokio(Default::default())?;
    let client = worker::connect().await?;
    let saga = |i: usize, phase: &str| {
        let client = client.clone();
        let order_id = format!("bench-{run_id}-{phase}-{i}");
        let task_queue = task_queue.clone();
        async move { run_saga(&client, &task_queue, order_id, i).await }
    };

    // How many activities one saga runs: the baseline runs as many.
    let probe = format!("bench-{run_id}-probe");
    run_saga(&client, &task_queue, probe.clone(), 0).await?;
    let activities = activities_in(&client, &probe).await?;

    let noop_queue = format!("bench-noop-{run_id}");
    let mut noop_worker = noop_worker(&runtime, &client, &noop_queue)?;
    let stop_noop_worker = noop_worker.shutdown_handle();
    let noop = |i: usize, phase: &str| {
        let id = format!("noop-{run_id}-{phase}-{i}");
        run_noop(client.clone(), noop_queue.clone(), id, activities)
    };

    let driver = async {
        load(warmup, concurrency, |i| noop(i, "warmup")).await;
        load(warmup, concurrency, |i| saga(i, "warmup")).await;
        let baseline = load(sagas, concurrency, |i| noop(i, "run")).await;
        let measured = load(sagas, concurrency, |i| saga(i, "run")).await;
        stop_noop_worker();
        (baseline, measured)
    };
    let (worker_result, (baseline, measured)) = tokio::join!(noop_worker.run(), driver);
    worker_result?;
    let rss = peak_rss(worker_pid)?;

    println!(
        "saga benchmark: {sagas} runs at concurrency {concurrency}, {activities} activities each, Temporal dev server"
    );
    print_comparison(&baseline, &measured, rss);
    if baseline.failed + measured.failed > 0 {
        return Err(format!("{} runs failed", baseline.failed + measured.failed).into());
    }
    Ok(())
}

/// The products the orders spread over, with stock that no run exhausts.
async fn create_products(inventory: &str) -> Result<(), BoxError> {
    let http = reqwest::Client::new();
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
/// (`WORKER_PID`) runs only sagas, so its peak RSS is the saga's alone.
fn noop_worker(runtime: &Runtime, client: &Client, queue: &str) -> Result<Worker, BoxError> {
    let options = WorkerOptions::new(queue.to_owned())
        .register_workflow::<NoopWorkflow>()?
        .register_activities(NoopActivities)
        .build();
    Ok(Worker::new(runtime, client.clone(), options)?)
}

async fn run_noop(
    client: Client,
    queue: String,
    id: String,
    activities: u32,
) -> Result<(), String> {
    let handle = client
        .start_workflow(
            NoopWorkflow::run,
            activities,
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

async fn run_saga(
    client: &Client,
    task_queue: &str,
    order_id: String,
    i: usize,
) -> Result<(), String> {
    let input = SagaInput {
        order_id: order_id.clone(),
        customer_id: format!("bench-customer-{}", i % SPREAD),
        lines: vec![OrderLine {
            sku: sku(i),
            quantity: 1,
            unit_price: 100,
        }],
        currency: "EUR".to_owned(),
        payment_method: "card_approve".to_owned(),
        approval: ApprovalPolicy::default(),
    };
    let handle = client
        .start_workflow(
            OrderSaga::run,
            input,
            WorkflowStartOptions::new(task_queue, order_id).build(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let result = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    match result.outcome {
        Outcome::Completed => Ok(()),
        Outcome::Cancelled => Err(format!("saga cancelled: {:?}", result.reason)),
    }
}

async fn activities_in(client: &Client, workflow_id: &str) -> Result<u32, BoxError> {
    let events = client
        .get_workflow_handle::<OrderSaga>(workflow_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await?;
    Ok(events
        .iter()
        .filter(|e| e.event_type == EventType::ActivityTaskScheduled as i32)
        .count() as u32)
}

fn print_comparison(baseline: &LoadReport, measured: &LoadReport, worker_rss: u64) {
    print_row("baseline (no-op activities)", baseline);
    print_row("order saga", measured);
    let ratio = measured.throughput() / baseline.throughput();
    println!(
        "throughput ratio saga/baseline: {ratio:.2}  (target >= 0.70: {})",
        verdict(ratio >= 0.7)
    );
    println!(
        "p99 ratio saga/baseline: {:.2}",
        measured.quantile(0.99).as_secs_f64() / baseline.quantile(0.99).as_secs_f64()
    );
    let rss_mb = worker_rss as f64 / (1024.0 * 1024.0);
    println!(
        "worker peak RSS: {rss_mb:.1} MB  (target <= 64 MB: {})",
        verdict(rss_mb <= 64.0)
    );
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
