//! Test support (feature `testing`), for this crate's integration tests and the
//! gateway's: the services the saga calls, on fresh tables in DynamoDB Local over real
//! HTTP, and the saga worker running inside the test process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use serde_json::json;
use service_kit::payload_codec;
use service_kit::testing::{self, Api};

use crate::breaker::{BreakerSettings, BreakerSnapshot, CircuitBreaker};
use service_kit::services::{self, ServiceUrls};

use crate::config::WorkerConfig;

/// Transforms a service's router before it is served (e.g. to lose responses).
pub type Wrap = Box<dyn FnOnce(Router) -> Router>;

/// How a test wants its services.
pub struct ServiceOptions {
    /// How long `card_slow` takes.
    pub slow_card: Duration,
    /// Routers to transform, by service name.
    pub wraps: HashMap<&'static str, Wrap>,
    /// The failure switchboard (`FAILURE_INJECTION`), on unless a test turns it off.
    pub failure_injection: bool,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            slow_card: Duration::from_secs(2),
            wraps: HashMap::new(),
            failure_injection: true,
        }
    }
}

/// The services this stack runs, each with its table's owner in `infra/tables.json`:
/// those `infra/services.json` declares (a test holds them to it).
pub const SERVICES: [(&str, &str); 5] = [
    ("customer", customer::TABLE),
    ("inventory", inventory::TABLE),
    ("order", order::TABLE),
    ("payment", payment::TABLE),
    ("notification", notification::TABLE),
];

/// The five services, each on a fresh table, counting the requests it receives.
pub struct Services {
    pub customer: Api,
    pub inventory: Api,
    pub order: Api,
    pub payment: Api,
    pub notification: Api,
    /// Each one's base URL, by name.
    urls: ServiceUrls,
    calls: HashMap<&'static str, Arc<AtomicUsize>>,
}

impl Services {
    pub async fn start(dynamo: &aws_sdk_dynamodb::Client, mut options: ServiceOptions) -> Self {
        let mut tables = HashMap::new();
        for (name, owner) in SERVICES {
            let mut config = testing::fresh_table(dynamo, owner).await;
            config.failure_injection = options.failure_injection;
            tables.insert(name, config);
        }
        let routers = [
            (
                "customer",
                customer::router(dynamo.clone(), &tables["customer"]),
            ),
            (
                "inventory",
                inventory::router(dynamo.clone(), &tables["inventory"]),
            ),
            (
                "order",
                order::router(
                    dynamo.clone(),
                    &tables["order"],
                    order::CustomerLimits::default(),
                ),
            ),
            (
                "payment",
                payment::router(dynamo.clone(), &tables["payment"], options.slow_card),
            ),
            (
                "notification",
                notification::router(dynamo.clone(), &tables["notification"]),
            ),
        ];
        let mut calls = HashMap::new();
        let mut urls = ServiceUrls::new();
        let mut apis = Vec::new();
        for (name, mut router) in routers {
            if let Some(wrap) = options.wraps.remove(name) {
                router = wrap(router);
            }
            let counter = Arc::new(AtomicUsize::new(0));
            calls.insert(name, counter.clone());
            let counted = router.layer(middleware::from_fn(move |request: Request, next: Next| {
                let counter = counter.clone();
                async move {
                    // Switching a failure mode is the test's doing, not a call.
                    if !request.uri().path().starts_with("/admin/") {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    next.run(request).await
                }
            }));
            let api = testing::spawn_as(name, counted).await;
            urls.insert(name, api.base_url.clone());
            apis.push(api);
        }
        let [customer, inventory, order, payment, notification] =
            <[Api; 5]>::try_from(apis).unwrap_or_else(|_| unreachable!("five services"));
        Self {
            customer,
            inventory,
            order,
            payment,
            notification,
            urls,
            calls,
        }
    }

    /// The base URLs of the services `infra/services.json` declares as called by
    /// `caller` (`gateway`, `worker`): what its configuration reads.
    pub fn urls_for(&self, caller: &str) -> ServiceUrls {
        services::called_by(caller)
            .map(|(name, _)| (name, self.urls[name].clone()))
            .collect()
    }

    /// The requests `service` has received (failure-mode changes excluded).
    pub fn calls(&self, service: &str) -> usize {
        self.calls[service].load(Ordering::SeqCst)
    }

    /// A worker's configuration for these services, on `task_queue`.
    pub fn worker_config(&self, task_queue: &str, breaker: BreakerSettings) -> WorkerConfig {
        WorkerConfig {
            task_queue: task_queue.to_owned(),
            services: self.urls_for("worker"),
            breaker,
            downstream_timeout: Duration::from_secs(8),
            status_addr: None,
            breakers_table: None,
            metrics_addr: None,
            deployment: None,
        }
    }

    pub async fn add_product(&self, sku: &str, available: u32, price: u64) {
        self.inventory
            .post(
                "/products",
                json!({"sku": sku, "name": sku, "price": price, "currency": "EUR", "available": available}),
            )
            .await
            .expect(201);
    }

    /// (available, reserved) of a product.
    pub async fn stock(&self, sku: &str) -> (u64, u64) {
        let product = self
            .inventory
            .get(&format!("/products/{sku}"))
            .await
            .expect(200);
        (
            product["available"].as_u64().expect("available"),
            product["reserved"].as_u64().expect("reserved"),
        )
    }
}

/// A worker running in this process on a thread of its own (its run loop is not
/// `Send`), stopped and joined on drop.
pub struct InProcessWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    breakers: Arc<Mutex<Vec<Arc<CircuitBreaker>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessWorker {
    pub fn start(config: WorkerConfig) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let breakers = Arc::new(Mutex::new(Vec::new()));
        let shared = breakers.clone();
        let thread = std::thread::spawn(move || {
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            tokio.block_on(async move {
                let (runtime, metrics) = crate::runtime(&config).expect("runtime");
                let client = crate::connect_with(Some(payload_codec::test_keys()))
                    .await
                    .expect("connect");
                let (mut saga_worker, breakers) =
                    crate::saga_worker(&runtime, client, &config, None, metrics).expect("worker");
                if let Some(table) = &config.breakers_table {
                    crate::board::start(table, "in-process", breakers.clone()).await;
                }
                *shared.lock().expect("breakers") = breakers;
                // Shutdown spawns an RPC onto the calling runtime: call it from this one.
                let shutdown = saga_worker.shutdown_handle();
                tokio::spawn(async move {
                    let _ = stopped.await;
                    shutdown();
                });
                ready_tx.send(()).expect("report ready");
                saga_worker.run().await.expect("worker run");
            });
            // Dropping the runtime would wait for the SDK's blocking tasks indefinitely.
            tokio.shutdown_timeout(Duration::from_secs(2));
        });
        ready_rx.recv().expect("worker started");
        Self {
            stop: Some(stop),
            breakers,
            thread: Some(thread),
        }
    }

    pub fn breaker(&self, service: &str) -> BreakerSnapshot {
        let breakers = self.breakers.lock().expect("breakers");
        let breaker = breakers
            .iter()
            .find(|b| b.service() == service)
            .expect("a breaker per service");
        breaker.snapshot(Instant::now())
    }
}

impl Drop for InProcessWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::services;

    /// A service added to `infra/services.json` (and so to the scripts, compose and the
    /// template) is one the saga's and the gateway's tests run too, on the same table.
    #[test]
    fn the_test_stack_runs_the_declared_services_on_their_tables() {
        let declared: BTreeMap<&str, &str> = services::declared()
            .map(|(name, service)| (name, service.table.as_str()))
            .collect();
        assert_eq!(BTreeMap::from(super::SERVICES), declared);
    }
}
