use std::collections::HashMap;

use super::*;

fn env_of(target: &Target) -> HashMap<String, String> {
    environment(target, "127.0.0.1:4000", Path::new("/tmp/empty-home"))
        .expect("an environment")
        .into_iter()
        .collect()
}

fn values() -> GatewaySecrets {
    GatewaySecrets::Values {
        jwt_secret: "j".repeat(48),
        payload_keys: r#"{"current":"k","keys":{"k":"AA=="}}"#.into(),
    }
}

#[test]
fn a_service_gets_the_lambda_environment_its_table_and_every_aws_endpoint_on_the_stub() {
    let env = env_of(&Target::new(Path::new("/bins"), "order"));
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:4000");
    assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4000");
    assert_eq!(env["TABLE_NAME"], "orders");
    assert_eq!(env["HOME"], "/tmp/empty-home");
    for var in [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(env.contains_key(var), "{var} missing");
    }
    assert!(!env.contains_key("SSL_CERT_FILE"));
}

#[test]
fn the_gateway_gets_its_secrets_as_values_or_as_secrets_manager_arns() {
    let target = Target::new(Path::new("/bins"), "gateway");
    assert!(environment(&target, "127.0.0.1:4000", Path::new("/h")).is_err());

    let env = env_of(&target.clone().with_secrets("gateway", values()));
    assert_eq!(env["JWT_SECRET"].len(), 48);
    assert!(env.contains_key("PAYLOAD_KEYS"));
    assert!(!env.contains_key("JWT_SECRET_ARN"));
    assert_eq!(env["INVENTORY_URL"], "http://127.0.0.1:4000/inventory/");
    assert_eq!(env["SERVICE_AUTH"], "aws_iam");

    let env = env_of(&target.with_secrets(
        "gateway (Secrets Manager)",
        GatewaySecrets::SecretsManager {
            endpoint: "http://127.0.0.1:5000".into(),
            jwt_secret_arn: "arn:jwt".into(),
            payload_keys_arn: "arn:keys".into(),
        },
    ));
    assert_eq!(env["JWT_SECRET_ARN"], "arn:jwt");
    assert_eq!(env["PAYLOAD_KEYS_ARN"], "arn:keys");
    assert_eq!(
        env["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        "http://127.0.0.1:5000"
    );
    assert!(!env.contains_key("JWT_SECRET") && !env.contains_key("PAYLOAD_KEYS"));
}

#[test]
fn every_deployed_function_has_an_environment_and_an_unknown_binary_none() {
    for function in FUNCTIONS {
        let target = Target::new(Path::new("/bins"), function).with_secrets(function, values());
        assert!(
            environment(&target, "127.0.0.1:1", Path::new("/h")).is_ok(),
            "{function}"
        );
    }
    let unknown = Target::new(Path::new("/bins"), "devstack");
    assert!(environment(&unknown, "127.0.0.1:1", Path::new("/h")).is_err());
}

#[test]
fn the_request_line_is_read_once_complete() {
    assert_eq!(
        request_line(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n"),
        Some(("GET".into(), NEXT_INVOCATION.into()))
    );
    assert_eq!(request_line(b"GET /2018-06-01/runtime/inv"), None);
}

#[test]
fn stage_marks_are_offsets_from_the_spawn_and_repeats_are_counted() {
    let stderr = "noise\ncoldstart-stage main 1000500\ncoldstart-stage aws-config 1002000\n\
                  coldstart-stage aws-config 1003000\ncoldstart-stage broken\n";
    let marks = stage_marks(stderr, 1_000_000);
    let names: Vec<&str> = marks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["main", "aws-config", "aws-config (2)"]);
    assert_eq!(marks[0].1, Duration::from_micros(500));
    assert_eq!(marks[2].1, Duration::from_micros(3000));
}

#[test]
fn each_round_starts_every_target_once_in_a_rotated_order() {
    for round in 0..5 {
        let mut order = round_order(4, round);
        assert_eq!(order[0], round % 4);
        order.sort_unstable();
        assert_eq!(order, [0, 1, 2, 3]);
    }
}

fn series(millis: &[u64]) -> Series {
    Series {
        samples: millis
            .iter()
            .map(|&ms| Sample {
                to_first_poll: Duration::from_millis(ms),
                stages: vec![("main".into(), Duration::from_millis(ms / 2))],
            })
            .collect(),
    }
}

#[test]
fn the_report_gives_ratios_to_the_baseline_and_a_verdict() {
    let hello = series(&[4, 4, 5, 4, 6, 4, 4, 4, 4, 5]);
    let quick = series(&[5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    let slow = series(&[8, 8, 8, 8, 8, 8, 8, 8, 8, 9]);
    assert_eq!(hello.quantile(0.5), Duration::from_millis(4));
    assert_eq!(hello.quantile(0.9), Duration::from_millis(5));
    let text = report(
        &[
            ("hello".into(), hello),
            ("quick".into(), quick),
            ("slow".into(), slow),
        ],
        1.35,
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("hello").ends_with("baseline"), "{text}");
    assert!(line("quick").contains("1.25") && line("quick").ends_with("met"));
    assert!(line("slow").contains("2.00") && line("slow").ends_with("MISSED"));
}

#[test]
fn stage_medians_end_with_the_first_poll() {
    let medians = series(&[4, 6, 8]).stage_medians();
    assert_eq!(
        medians,
        [
            ("main".to_owned(), Duration::from_millis(3)),
            ("first poll".to_owned(), Duration::from_millis(6)),
        ]
    );
    assert!(stages_report(&[("x".into(), series(&[4, 6, 8]))]).contains("first poll"));
}

/// A stand-in function: bash, sending `request` to the stub at AWS_LAMBDA_RUNTIME_API,
/// then waiting to be stopped.
fn fake(request: &str) -> Target {
    let script = format!(
        "exec 3<>\"/dev/tcp/${{AWS_LAMBDA_RUNTIME_API%:*}}/${{AWS_LAMBDA_RUNTIME_API#*:}}\"; \
         printf '{request} HTTP/1.1\\r\\nhost: stub\\r\\n\\r\\n' >&3; read -r _ <&3"
    );
    Target {
        label: "fake".into(),
        binary: BASELINE.into(),
        program: "/bin/bash".into(),
        args: vec!["-c".into(), script],
        secrets: None,
    }
}

#[tokio::test]
async fn a_start_is_timed_to_its_first_poll() {
    let sample = start_once(
        &fake(&format!("GET {NEXT_INVOCATION}")),
        Path::new("/nonexistent"),
        Duration::from_secs(20),
        false,
    )
    .await
    .expect("a poll");
    assert!(sample.to_first_poll > Duration::ZERO);
    assert!(sample.to_first_poll < Duration::from_secs(20));
}

#[tokio::test]
async fn a_call_to_aws_before_the_first_poll_fails_the_start() {
    let error = start_once(
        &fake("POST /"),
        Path::new("/nonexistent"),
        Duration::from_secs(20),
        false,
    )
    .await
    .expect_err("refused");
    assert!(error.contains("POST /"), "{error}");
}

#[tokio::test]
async fn a_function_that_exits_before_polling_fails_the_start_with_its_output() {
    let mut target = fake("unused");
    target.args = vec!["-c".into(), "echo 'missing TABLE_NAME' >&2; exit 3".into()];
    let error = start_once(
        &target,
        Path::new("/nonexistent"),
        Duration::from_secs(20),
        false,
    )
    .await
    .expect_err("refused");
    assert!(
        error.contains("exited") && error.contains("missing TABLE_NAME"),
        "{error}"
    );
}
