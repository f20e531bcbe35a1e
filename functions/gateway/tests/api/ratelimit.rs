//! The rate limit is shared: two gateway processes on one rate-limit table admit, in
//! total, what one would, even under concurrent bursts. And it holds when its table
//! fails: each instance then enforces the policy on its own.

use std::time::{Duration, Instant};

use crate::support::{GatewayProcess, Stack};

const PER_MINUTE: u32 = 60;
const BURST: u32 = 10;
const LEASE: u32 = 2;

async fn start_gateway(stack: &Stack, rate_limit_table: &str) -> GatewayProcess {
    GatewayProcess::start(
        stack,
        &[
            ("RATE_LIMIT_TABLE", rate_limit_table),
            ("RATE_LIMIT_PER_MINUTE", &PER_MINUTE.to_string()),
            ("RATE_LIMIT_BURST", &BURST.to_string()),
            ("RATE_LIMIT_LEASE", &LEASE.to_string()),
        ],
    )
    .await
}

/// Sends `count` catalog requests to `url` at once; the statuses.
async fn burst(http: &reqwest::Client, url: &str, count: usize) -> Vec<reqwest::Response> {
    let requests = (0..count).map(|_| http.get(format!("{url}/v1/products")).send());
    futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|response| response.expect("reachable"))
        .collect()
}

/// Checks a 429's headers and body; the number of 200s and of 429s.
async fn tally(responses: Vec<reqwest::Response>) -> (u32, u32) {
    let (mut admitted, mut limited) = (0, 0);
    for response in responses {
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => {
                limited += 1;
                let retry_after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("seconds");
                assert!(retry_after >= 1);
                assert!(response.headers().contains_key("ratelimit"));
                assert!(response.headers().contains_key("ratelimit-policy"));
                let problem: serde_json::Value = response.json().await.expect("problem");
                assert_eq!(problem["type"], "/problems/rate-limited");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    (admitted, limited)
}

/// The burst plus what the sustained rate refills in `elapsed`.
fn policy_allows(elapsed: Duration) -> u32 {
    BURST + (elapsed.as_secs_f64() * f64::from(PER_MINUTE) / 60.0).ceil() as u32
}

#[tokio::test]
async fn two_gateway_processes_share_one_limit_under_concurrent_bursts() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let table = stack.config.rate_limit_table.clone();
    let gateways = [
        start_gateway(&stack, &table).await,
        start_gateway(&stack, &table).await,
    ];
    let http = reqwest::Client::new();

    let started = Instant::now();
    let (first, second) = tokio::join!(
        burst(&http, &gateways[0].url, 25),
        burst(&http, &gateways[1].url, 25)
    );
    let elapsed = started.elapsed();
    let (admitted_first, limited_first) = tally(first).await;
    let (admitted_second, limited_second) = tally(second).await;
    let total = admitted_first + admitted_second;
    // Leased permits are charged to the shared state when taken, so the total stays
    // within the policy; the tolerance of one lease per instance covers the edges.
    let most = policy_allows(elapsed) + 2 * LEASE;
    assert!(
        total <= most,
        "admitted {total} > {most} in {elapsed:?}: the limit is not shared"
    );
    assert!(total >= BURST - 2 * LEASE, "admitted only {total}");
    assert!(
        limited_first > 0 && limited_second > 0,
        "both instances enforce the limit: {limited_first} and {limited_second} refused"
    );
}

#[tokio::test]
async fn a_broken_rate_limit_table_still_limits() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let gateway = start_gateway(&stack, "no-such-table").await;
    let http = reqwest::Client::new();

    let started = Instant::now();
    let responses = burst(&http, &gateway.url, 30).await;
    let elapsed = started.elapsed();
    let (admitted, limited) = tally(responses).await;
    assert!(
        admitted <= policy_allows(elapsed),
        "admitted {admitted} of 30 with the store down: the limiter failed open"
    );
    assert!(
        admitted >= 1 && limited > 0,
        "{admitted} admitted, {limited} limited"
    );
}
