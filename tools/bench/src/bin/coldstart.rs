//! `coldstart`: starts every Lambda function's binary `BENCH_RUNS` times (after
//! `BENCH_WARMUP` unmeasured starts) with the environment Lambda gives it, against a stub
//! Runtime API, and reports per function the median and p90 time from spawn to the
//! first poll, and their ratios to the hello-world baseline (`coldstart-hello`) started
//! in the same rounds. `infra/bench-coldstart.sh` builds the binaries and runs it.
//!
//! - `BENCH_BIN_DIR`: where the binaries are (default: this binary's folder);
//! - `BENCH_FUNCTIONS`: which, comma-separated (default: all of them);
//! - `JWT_SECRET`, `PAYLOAD_KEYS`: the gateway's secrets, as `infra/run.sh` gives them;
//! - `SECRETS_MANAGER_URL`: also start the gateway with both secrets in the Secrets
//!   Manager there (moto's, see `infra/lib.sh`), as on AWS, and report it apart;
//! - `BENCH_STAGES=1`: the functions mark their start's stages (`service_kit::startup`),
//!   and their medians are reported;
//! - `BENCH_TARGET`: the ratio to meet (default 1.35).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bench::coldstart::{
    BASELINE, FUNCTIONS, GatewaySecrets, Series, Target, report, round_order, secrets,
    stages_report, start_once,
};
use service_kit::config::{optional, required};
use service_kit::serve::BoxError;

/// How long a start may take before it counts as failed.
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let runs: usize = optional("BENCH_RUNS", 20)?;
    let warmup: usize = optional("BENCH_WARMUP", 1)?;
    let stages = optional("BENCH_STAGES", 0u8)? == 1;
    let target_ratio: f64 = optional("BENCH_TARGET", 1.35)?;
    let targets = targets().await?;
    // An empty HOME: no AWS profile file of this machine is read, as on Lambda.
    let home = std::env::temp_dir().join(format!("coldstart-home-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&home)?;

    let mut series = vec![Series::default(); targets.len()];
    for round in 0..warmup + runs {
        for i in round_order(targets.len(), round) {
            let sample = start_once(&targets[i], &home, DEADLINE, stages).await?;
            if round >= warmup {
                series[i].samples.push(sample);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);

    let labelled: Vec<(String, Series)> = targets
        .iter()
        .map(|t| t.label.clone())
        .zip(series)
        .collect();
    println!(
        "cold start: spawn to first /runtime/invocation/next, {runs} runs each after {warmup} warm-up, interleaved"
    );
    print!("{}", report(&labelled, target_ratio));
    if stages {
        println!();
        print!("{}", stages_report(&labelled));
    }
    Ok(())
}

/// The baseline first, then each function asked for; the gateway once with its
/// secrets as values, and once more from Secrets Manager when there is one.
async fn targets() -> Result<Vec<Target>, BoxError> {
    let bin_dir = match optional("BENCH_BIN_DIR", String::new())? {
        dir if !dir.is_empty() => PathBuf::from(dir),
        _ => own_folder()?,
    };
    let all = FUNCTIONS.join(",");
    let wanted: String = optional("BENCH_FUNCTIONS", all)?;
    let mut targets = vec![Target::new(&bin_dir, BASELINE)];
    for function in wanted.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !FUNCTIONS.contains(&function) {
            return Err(
                format!("BENCH_FUNCTIONS: {function:?} is not one of {FUNCTIONS:?}").into(),
            );
        }
        let target = Target::new(&bin_dir, function);
        if function != "gateway" {
            targets.push(target);
            continue;
        }
        let jwt_secret = required("JWT_SECRET")?;
        let payload_keys = required("PAYLOAD_KEYS")?;
        let values = GatewaySecrets::Values {
            jwt_secret: jwt_secret.clone(),
            payload_keys: payload_keys.clone(),
        };
        targets.push(target.clone().with_secrets("gateway", values));
        let endpoint: String = optional("SECRETS_MANAGER_URL", String::new())?;
        if !endpoint.is_empty() {
            let stored = secrets::store(&endpoint, &jwt_secret, &payload_keys).await?;
            if let GatewaySecrets::SecretsManager { jwt_secret_arn, .. } = &stored {
                let answer = secrets::answer_time(&endpoint, jwt_secret_arn, 20).await?;
                println!(
                    "the Secrets Manager stub answers GetSecretValue in {:.2} ms (median, warm connection); the gateway asks it twice",
                    answer.as_secs_f64() * 1000.0
                );
            }
            targets.push(target.with_secrets("gateway, secrets from Secrets Manager", stored));
        }
    }
    for target in &targets {
        if !target.program.is_file() {
            return Err(format!(
                "{} is not built: {}",
                target.label,
                target.program.display()
            )
            .into());
        }
    }
    Ok(targets)
}

fn own_folder() -> Result<PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().unwrap_or(Path::new(".")).to_path_buf())
}
