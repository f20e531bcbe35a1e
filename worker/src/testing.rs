//! Test support (feature `testing`): the saga worker running inside a test process.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use service_kit::payload_codec;

use crate::breaker::{BreakerSnapshot, CircuitBreaker};
use crate::config::WorkerConfig;

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
