//! The worker binary encrypts saga payloads or refuses to start: no key ring, no worker
//! (payloads in clear only when asked for, as the compose file does).

use std::process::{Command, Stdio};

fn worker_without_keys() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_remove("PAYLOAD_KEYS")
        .env_remove("PAYLOAD_KEYS_ARN")
        .env_remove("ALLOW_PLAINTEXT_PAYLOADS")
        .env("TASK_QUEUE", "startup-test")
        .env("WORKER_STATUS_ADDR", "")
        .env("LOG_FORMAT", "text")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for service in ["INVENTORY", "ORDER", "PAYMENT", "NOTIFICATION"] {
        command.env(format!("{service}_URL"), "http://127.0.0.1:9");
    }
    command
}

#[test]
fn without_a_key_ring_the_worker_refuses_to_start() {
    let output = worker_without_keys().output().expect("run the worker");
    assert!(!output.status.success(), "the worker started: {output:?}");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("PAYLOAD_KEYS"), "{said}");
}

#[test]
fn a_key_ring_that_is_not_one_is_refused() {
    let output = worker_without_keys()
        .env("PAYLOAD_KEYS", r#"{"current": "k1", "keys": {}}"#)
        .output()
        .expect("run the worker");
    assert!(!output.status.success(), "the worker started: {output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("key ring is invalid"), "{said}");
}

#[test]
fn a_worker_whose_status_address_is_taken_refuses_to_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().expect("its address");
    let output = worker_without_keys()
        .env("PAYLOAD_KEYS", service_kit::payload_codec::test_ring_json())
        .env("WORKER_STATUS_ADDR", addr.to_string())
        .output()
        .expect("run the worker");
    assert!(!output.status.success(), "the worker started: {output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&format!("the status endpoint cannot listen on {addr}")),
        "{said}"
    );
}
