//! The rate limit is shared: two gateway processes on one rate-limit table admit, in
//! total, what one would.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Stack;

const PER_MINUTE: u32 = 60;
const BURST: u32 = 10;
const LEASE: u32 = 2;

struct GatewayProcess {
    child: Child,
    url: String,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_gateway(stack: &Stack) -> GatewayProcess {
    let port = free_port();
    let config = &stack.config;
    let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .env("PORT", port.to_string())
        .env("CUSTOMER_URL", &config.services.customer)
        .env("INVENTORY_URL", &config.services.inventory)
        .env("ORDER_URL", &config.services.order)
        .env("PAYMENT_URL", &config.services.payment)
        .env("NOTIFICATION_URL", &config.services.notification)
        .env("TABLE_NAME", &config.table)
        .env("RATE_LIMIT_TABLE", &config.rate_limit_table)
        .env("BREAKERS_TABLE", &config.breakers_table)
        .env("RATE_LIMIT_PER_MINUTE", PER_MINUTE.to_string())
        .env("RATE_LIMIT_BURST", BURST.to_string())
        .env("RATE_LIMIT_LEASE", LEASE.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the gateway binary");
    let process = GatewayProcess {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{}/health", process.url))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the gateway did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process
}

#[tokio::test]
async fn two_gateway_processes_share_one_limit() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let gateways = [start_gateway(&stack).await, start_gateway(&stack).await];
    let http = reqwest::Client::new();

    let started = Instant::now();
    let mut admitted = [0u32; 2];
    let mut limited = [0u32; 2];
    for i in 0..30 {
        let which = i % 2;
        let response = http
            .get(format!("{}/v1/products", gateways[which].url))
            .send()
            .await
            .expect("reachable");
        match response.status().as_u16() {
            200 => admitted[which] += 1,
            429 => {
                limited[which] += 1;
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
    let elapsed = started.elapsed().as_secs_f64();
    let total = admitted[0] + admitted[1];
    // The burst, plus what the sustained rate refilled meanwhile...
    let most = BURST + (elapsed * f64::from(PER_MINUTE) / 60.0).ceil() as u32;
    assert!(
        total <= most,
        "admitted {total} > {most} in {elapsed:.2} s: the limit is not shared"
    );
    // ...minus at most what each instance leased and did not get to use.
    assert!(total >= BURST - 2 * LEASE, "admitted only {total}");
    assert!(
        limited[0] > 0 && limited[1] > 0,
        "both instances enforce the limit: {limited:?}"
    );
}
