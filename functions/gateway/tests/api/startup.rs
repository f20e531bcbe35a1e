//! The gateway binary refuses to start without a signing secret it can trust, and
//! starts, warning, with the development secret only when asked to and off Lambda.
//! The same holds for the key ring that encrypts saga payloads and for the credentials
//! of Temporal Cloud.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use service_kit::{payload_codec, testing};

use crate::support::TEST_JWT_SECRET;

/// The environment a gateway needs besides its secrets (nothing is called at start),
/// with the tests' payload key ring unless `secret_env` says otherwise.
fn gateway(secret_env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("TABLE_PREFIX", "startup-test-")
        .env("RUST_LOG", "warn")
        .env("LOG_FORMAT", "text")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for service in ["CUSTOMER", "INVENTORY", "ORDER", "PAYMENT", "NOTIFICATION"] {
        command.env(format!("{service}_URL"), "http://127.0.0.1:9");
    }
    if let Some(endpoint) = std::env::var_os("AWS_ENDPOINT_URL_SECRETS_MANAGER") {
        command.env("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint);
    }
    command.env("PAYLOAD_KEYS", payload_codec::test_ring_json());
    for (name, value) in secret_env {
        command.env(name, value);
    }
    command
}

/// Runs a gateway that must exit on its own, and soon; its combined output.
fn refused(command: &mut Command) -> String {
    let mut child = command.spawn().expect("run the gateway");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("poll").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("stop the gateway");
            let output = child.wait_with_output().expect("its output");
            panic!("the gateway started: {}", text(&output));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("its output");
    assert!(!output.status.success(), "the gateway started: {output:?}");
    text(&output)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Starts a gateway that must keep running and listen; stops it; its output.
fn serving(command: &mut Command) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let mut child = command
        .env("PORT", port.to_string())
        .spawn()
        .expect("start the gateway");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().expect("poll") {
            panic!("the gateway exited ({status}) instead of serving");
        }
        assert!(Instant::now() < deadline, "the gateway did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("stop the gateway");
    text(&child.wait_with_output().expect("its output"))
}

#[test]
fn without_a_secret_the_gateway_refuses_to_start() {
    let said = refused(&mut gateway(&[]));
    assert!(said.contains("JWT_SECRET"), "{said}");
}

#[test]
fn a_short_secret_is_refused() {
    let said = refused(&mut gateway(&[("JWT_SECRET", "short-but-not-32-bytes")]));
    assert!(said.contains("at least 32 bytes"), "{said}");
}

#[tokio::test]
async fn a_short_secret_in_secrets_manager_is_refused() {
    let client = testing::secrets_manager().await;
    let arn = testing::new_secret(&client, "too-short").await;
    let said = refused(&mut gateway(&[("JWT_SECRET_ARN", &arn)]));
    assert!(said.contains("shorter than 32 bytes"), "{said}");

    let good = testing::new_secret(&client, TEST_JWT_SECRET).await;
    serving(&mut gateway(&[("JWT_SECRET_ARN", &good)]));
}

#[test]
fn the_development_secret_needs_the_flag_warns_and_never_runs_on_lambda() {
    let said = serving(&mut gateway(&[("ALLOW_DEV_JWT_SECRET", "true")]));
    assert!(said.contains("PUBLIC development secret"), "{said}");

    let said = refused(&mut gateway(&[
        ("ALLOW_DEV_JWT_SECRET", "true"),
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"),
    ]));
    assert!(said.contains("development secret"), "{said}");

    let said = refused(&mut gateway(&[(
        "JWT_SECRET",
        gateway::config::DEV_JWT_SECRET,
    )]));
    assert!(said.contains("development secret"), "{said}");
}

#[test]
fn without_payload_keys_the_gateway_refuses_to_start() {
    let mut command = gateway(&[("JWT_SECRET", TEST_JWT_SECRET)]);
    command.env_remove("PAYLOAD_KEYS");
    let said = refused(&mut command);
    assert!(said.contains("PAYLOAD_KEYS"), "{said}");
}

#[test]
fn an_invalid_key_ring_is_refused_without_printing_its_keys() {
    let short_key = "c2hvcnQta2V5LW9mLTE2Yg=="; // 16 bytes
    let ring = format!(r#"{{"current": "k1", "keys": {{"k1": "{short_key}"}}}}"#);
    let said = refused(&mut gateway(&[
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("PAYLOAD_KEYS", &ring),
    ]));
    assert!(said.contains("key ring is invalid"), "{said}");
    assert!(!said.contains(short_key), "{said}");
}

#[tokio::test]
async fn a_key_ring_in_secrets_manager_is_read_at_start() {
    let client = testing::secrets_manager().await;
    let arn = testing::new_secret(&client, &payload_codec::test_ring_json()).await;
    let mut command = gateway(&[("JWT_SECRET", TEST_JWT_SECRET), ("PAYLOAD_KEYS_ARN", &arn)]);
    command.env_remove("PAYLOAD_KEYS");
    serving(&mut command);

    let broken = testing::new_secret(&client, "not a ring").await;
    let mut command = gateway(&[
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("PAYLOAD_KEYS_ARN", &broken),
    ]);
    command.env_remove("PAYLOAD_KEYS");
    let said = refused(&mut command);
    assert!(said.contains("key ring is invalid"), "{said}");
}

#[test]
fn payloads_in_clear_need_the_flag_warn_and_never_run_on_lambda() {
    let mut command = gateway(&[
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("ALLOW_PLAINTEXT_PAYLOADS", "true"),
    ]);
    command.env_remove("PAYLOAD_KEYS");
    let said = serving(&mut command);
    assert!(said.contains("unencrypted"), "{said}");

    command.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    let said = refused(&mut command);
    assert!(said.contains("PAYLOAD_KEYS"), "{said}");
}

#[tokio::test]
async fn temporal_credentials_in_secrets_manager_are_read_at_start() {
    let client = testing::secrets_manager().await;
    let api_key = testing::new_secret(&client, "a-temporal-cloud-api-key").await;
    let with = |arn: &str| {
        let mut command = gateway(&[("JWT_SECRET", TEST_JWT_SECRET)]);
        command.env("TEMPORAL_SECRET_ARN", arn);
        command
    };
    serving(&mut with(&api_key));

    let half = testing::new_secret(&client, r#"{"tls_cert": "PEM"}"#).await;
    let said = refused(&mut with(&half));
    assert!(said.contains("neither an API key nor"), "{said}");
    assert!(!said.contains("PEM"), "{said}");
    let missing = api_key.replace("test-", "missing-");
    let said = refused(&mut with(&missing));
    assert!(said.contains("TEMPORAL_SECRET"), "{said}");
}

#[tokio::test]
async fn trusting_cloudfront_needs_its_origin_secret() {
    let said = refused(&mut gateway(&[
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("TRUSTED_PROXIES", "cloudfront"),
    ]));
    assert!(said.contains("CLOUDFRONT_ORIGIN_SECRET"), "{said}");
    let said = refused(&mut gateway(&[
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("TRUSTED_PROXIES", "cloudfront"),
        ("CLOUDFRONT_ORIGIN_SECRET", "short"),
    ]));
    assert!(said.contains("at least 32 bytes"), "{said}");
    let client = testing::secrets_manager().await;
    let arn = testing::new_secret(&client, "an-origin-secret-generated-by-cloudformation").await;
    serving(&mut gateway(&[
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("TRUSTED_PROXIES", "cloudfront"),
        ("CLOUDFRONT_ORIGIN_SECRET_ARN", &arn),
    ]));
}
