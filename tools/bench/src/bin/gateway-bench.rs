//! `gateway-bench`: authenticated catalog reads and order POSTs through the gateway at
//! `GATEWAY_URL`, side by side with the same catalog reads sent straight to the
//! inventory service at `INVENTORY_URL`, in one run, alternating so that both see the
//! same machine. Prints requests/s and p50/p99 latency, and the p99 the gateway adds.
//! `infra/bench-gateway.sh` sets up the stack and runs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bench::{LoadReport, load};
use serde_json::json;
use service_kit::config::{optional, required};
use service_kit::serve::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    service_kit::telemetry::init("gateway-bench");
    let gateway = required("GATEWAY_URL")?;
    let inventory = required("INVENTORY_URL")?;
    let requests: usize = optional("BENCH_REQUESTS", 2000)?;
    let orders: usize = optional("BENCH_ORDERS", 200)?;
    let concurrency: usize = optional("BENCH_CONCURRENCY", 32)?;
    let http = reqwest::Client::new();
    let token = register_and_log_in(&http, &gateway).await?;

    let direct = |_| get(http.clone(), format!("{inventory}/products?limit=20"), None);
    let through = |_| {
        get(
            http.clone(),
            format!("{gateway}/v1/products?limit=20"),
            Some(token.clone()),
        )
    };

    // Warm both paths, then alternate halves so drift hits both alike.
    load(200, concurrency, direct).await;
    load(200, concurrency, through).await;
    let mut direct_runs = Vec::new();
    let mut gateway_runs = Vec::new();
    for _ in 0..2 {
        direct_runs.push(load(requests / 2, concurrency, direct).await);
        gateway_runs.push(load(requests / 2, concurrency, through).await);
    }
    let direct_report = merge(direct_runs);
    let gateway_report = merge(gateway_runs);

    let sku = stock_product(&http, &inventory, orders).await?;
    let orders_url = format!("{gateway}/v1/orders");
    let held = Arc::new(AtomicUsize::new(0));
    let post = |i| {
        let order = Order {
            url: orders_url.clone(),
            token: token.clone(),
            sku: sku.clone(),
            held: held.clone(),
        };
        post_order(http.clone(), order, i)
    };
    let orders_report = load(orders, concurrency, post).await;

    print_report(concurrency, &direct_report, &gateway_report, &orders_report);
    let held = held.load(Ordering::Relaxed);
    println!(
        "order answers: {held} held at once (201), {} after the checkout's wait (202)",
        orders_report.completed.saturating_sub(held)
    );
    let failed = direct_report.failed + gateway_report.failed + orders_report.failed;
    if failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}

/// A new customer every run, since idempotency keys are the customer's and the orders'
/// (`bench-{i}`) repeat from run to run. Returns its access token.
async fn register_and_log_in(http: &reqwest::Client, gateway: &str) -> Result<String, BoxError> {
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let credentials = json!({"email": email, "password": "benchmark password"});
    let mut registration = credentials.clone();
    registration["name"] = json!("Benchmark");
    http.post(format!("{gateway}/v1/auth/register"))
        .json(&registration)
        .send()
        .await?
        .error_for_status()?;
    let tokens: serde_json::Value = http
        .post(format!("{gateway}/v1/auth/login"))
        .json(&credentials)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = tokens["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_owned();
    Ok(token)
}

/// Reads the body to its end: the latency measured is the one a client sees.
async fn get(http: reqwest::Client, url: String, bearer: Option<String>) -> Result<(), String> {
    let mut request = http.get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    response
        .bytes()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A product of its own for the order POSTs, created in the inventory with a unit for
/// every order: each checkout can be held, none is answered out of stock.
async fn stock_product(
    http: &reqwest::Client,
    inventory: &str,
    orders: usize,
) -> Result<String, BoxError> {
    let sku = format!("BENCH-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let product = json!({"sku": sku, "name": "Benchmark mug", "price": 1250,
                         "currency": "EUR", "available": orders});
    http.post(format!("{inventory}/products"))
        .json(&product)
        .send()
        .await?
        .error_for_status()?;
    Ok(sku)
}

/// Where the order POSTs go, and the count of those the checkout answered as held.
struct Order {
    url: String,
    token: String,
    sku: String,
    held: Arc<AtomicUsize>,
}

/// The run's `i`th order, under its own idempotency key so that no order repeats another.
/// 201 is held, 202 still running after the checkout's wait: both are answers.
async fn post_order(http: reqwest::Client, order: Order, i: usize) -> Result<(), String> {
    let response = http
        .post(order.url)
        .bearer_auth(order.token)
        .header("idempotency-key", format!("bench-{i}"))
        .json(&json!({"lines": [{"sku": order.sku, "quantity": 1}], "payment_method": "card_approve"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match response.status().as_u16() {
        201 => {
            order.held.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        202 => Ok(()),
        status => Err(format!("status {status}")),
    }
}

fn print_report(
    concurrency: usize,
    direct: &LoadReport,
    through_gateway: &LoadReport,
    orders: &LoadReport,
) {
    println!("gateway benchmark: concurrency {concurrency}");
    print_row("catalog read, direct to inventory", direct);
    print_row("catalog read, through gateway", through_gateway);
    print_row("order POST, through gateway", orders);
    let ratio = through_gateway.quantile(0.99).as_secs_f64() / direct.quantile(0.99).as_secs_f64();
    println!(
        "catalog p99 through the gateway / direct: {ratio:.2}  (target <= 1.25: {})",
        if ratio <= 1.25 { "met" } else { "MISSED" }
    );
}

fn merge(reports: Vec<LoadReport>) -> LoadReport {
    let mut latencies: Vec<_> = reports
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    LoadReport {
        completed: reports.iter().map(|r| r.completed).sum(),
        failed: reports.iter().map(|r| r.failed).sum(),
        elapsed: reports.iter().map(|r| r.elapsed).sum(),
        latencies,
    }
}

fn print_row(name: &str, report: &LoadReport) {
    println!(
        "{name:<36} {:>8.0} req/s   p50 {:>6.1} ms   p99 {:>6.1} ms   ({} ok, {} failed)",
        report.throughput(),
        report.quantile(0.5).as_secs_f64() * 1000.0,
        report.quantile(0.99).as_secs_f64() * 1000.0,
        report.completed,
        report.failed
    );
}
