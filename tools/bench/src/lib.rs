//! Load generation and measurement for the benchmarks (`saga-bench`, `gateway-bench`):
//! run an async operation N times at concurrency C, and report throughput and latency
//! quantiles; read a process's peak RSS. And what one saga costs: [`meter`] (DynamoDB
//! requests and capacity, service calls), `worker::history` (events and Temporal Cloud
//! actions), [`procs`] (CPU time per process) and [`cost`] (the price of a million
//! orders). [`coldstart`]: functions' cold starts against a hello-world Lambda function.

pub mod coldstart;
pub mod cost;
pub mod meter;
pub mod procs;

use std::future::Future;
use std::time::{Duration, Instant};

use futures::StreamExt;

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub completed: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// End-to-end latencies (start to result) of the completed runs, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    pub fn throughput(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile (0..=1) of the latencies, nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }
}

/// The `q` quantile (0..=1) of `sorted`, nearest rank; zero when it is empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `count` executions of `run_one(i)` with at most `concurrency` in flight.
pub async fn load<F, Fut, E>(count: usize, concurrency: usize, run_one: F) -> LoadReport
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let outcomes: Vec<Result<Duration, String>> = futures::stream::iter(0..count)
        .map(|i| {
            let run = run_one(i);
            async move {
                let began = Instant::now();
                run.await
                    .map(|()| began.elapsed())
                    .map_err(|e| e.to_string())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().copied())
        .collect();
    latencies.sort_unstable();
    if let Some(Err(error)) = outcomes.iter().find(|o| o.is_err()) {
        tracing::error!(%error, "a benchmark run failed");
    }
    LoadReport {
        completed: latencies.len(),
        failed: outcomes.len() - latencies.len(),
        elapsed,
        latencies,
    }
}

/// The peak resident set size of a process (`VmHWM`), in bytes.
pub fn peak_rss(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other("no VmHWM in /proc/<pid>/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let report = LoadReport {
            completed: 100,
            failed: 0,
            elapsed: Duration::from_secs(10),
            latencies: (1..=100).map(Duration::from_millis).collect(),
        };
        assert_eq!(report.quantile(0.5), Duration::from_millis(50));
        assert_eq!(report.quantile(0.99), Duration::from_millis(99));
        assert_eq!(report.quantile(1.0), Duration::from_millis(100));
        assert!((report.throughput() - 10.0).abs() < f64::EPSILON);
    }

    #[tokio::test]
    async fn load_keeps_to_the_concurrency_and_counts_failures() {
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let report = load(20, 4, |i| {
            let in_flight = in_flight.clone();
            let peak = peak.clone();
            async move {
                let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                if i % 5 == 0 { Err("boom") } else { Ok(()) }
            }
        })
        .await;
        assert_eq!((report.completed, report.failed), (16, 4));
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 4);
    }

    #[test]
    fn the_peak_rss_of_this_process_is_readable() {
        let rss = peak_rss(std::process::id()).expect("readable");
        assert!(rss > 1024 * 1024);
    }
}
