//! Cold starts measured from outside, as Lambda sees them: the time from starting a
//! function's binary to its first poll of the Runtime API
//! (`GET /2018-06-01/runtime/invocation/next`), when the function says it is ready.
//!
//! Each start gets a stub Runtime API of its own on a fresh loopback port, and the
//! environment Lambda gives a function (see [`environment`]). Every AWS endpoint points at
//! that stub too, so a function that calls AWS before its first poll is caught there and
//! reported, instead of reaching out. The baseline is a hello-world `lambda_runtime`
//! binary (`coldstart-hello`) built with the same profile and started in the same run,
//! round after round, so that a busy machine slows both alike.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::quantile;

mod run;
pub mod secrets;

pub use run::start_once;

/// The Runtime API's long poll: a function that sends it is ready for its first event.
pub const NEXT_INVOCATION: &str = "/2018-06-01/runtime/invocation/next";

/// The hello-world baseline, from `tools/bench`.
pub const BASELINE: &str = "coldstart-hello";

/// Every function deployed to Lambda (`template.yaml`), in the order reported.
pub const FUNCTIONS: &[&str] = &[
    "customer",
    "inventory",
    "order",
    "payment",
    "notification",
    "gateway",
    "gateway-fanout",
];

/// The memory size `template.yaml` gives every function.
const MEMORY_MB: &str = "256";

/// The region and credentials every function gets (Lambda's are its role's, in these
/// same variables).
pub const REGION: &str = "eu-west-1";
pub const ACCESS_KEY_ID: &str = "ASIACOLDSTARTEXAMPLE";
pub const SECRET_ACCESS_KEY: &str = "coldstart-secret-access-key";
pub const SESSION_TOKEN: &str = "coldstart-session-token";

/// Where the gateway finds its two secrets (the JWT signing secret and the saga payloads'
/// key ring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewaySecrets {
    /// As values in `JWT_SECRET` and `PAYLOAD_KEYS`, the way `infra/run.sh` gives them.
    Values {
        jwt_secret: String,
        payload_keys: String,
    },
    /// As Secrets Manager ARNs, the way `template.yaml` gives them on AWS, served by the
    /// Secrets Manager at `endpoint`: the gateway fetches both before its first poll.
    SecretsManager {
        endpoint: String,
        jwt_secret_arn: String,
        payload_keys_arn: String,
    },
}

/// One binary to start, under a name for the report.
#[derive(Debug, Clone)]
pub struct Target {
    pub label: String,
    /// The binary's name: which function's environment it gets.
    pub binary: String,
    pub program: PathBuf,
    /// Arguments to the program (none for a function).
    pub args: Vec<String>,
    /// For the gateway only.
    pub secrets: Option<GatewaySecrets>,
}

impl Target {
    pub fn new(bin_dir: &Path, binary: &str) -> Self {
        Self {
            label: binary.to_owned(),
            binary: binary.to_owned(),
            program: bin_dir.join(binary),
            args: Vec::new(),
            secrets: None,
        }
    }

    pub fn with_secrets(mut self, label: &str, secrets: GatewaySecrets) -> Self {
        self.label = label.to_owned();
        self.secrets = Some(secrets);
        self
    }
}

type Env = Vec<(String, String)>;

fn pairs(list: &[(&str, &str)]) -> Env {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The whole environment of one start: what Lambda sets for every function (`provided.al2023`
/// runtime, `template.yaml`'s globals), then what this function's own template entry
/// sets. `runtime_api` is the stub's `host:port`; `home` an empty folder, so that no AWS
/// profile file of this machine is read (Lambda has none). Nothing else of this
/// machine's environment is passed on: a variable such as `SSL_CERT_FILE` would change
/// what the TLS stacks load.
pub fn environment(target: &Target, runtime_api: &str, home: &Path) -> Result<Env, String> {
    let stub = format!("http://{runtime_api}");
    let name = format!("coldstart-{}", target.binary);
    let mut env = pairs(&[
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", &name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef",
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        // Any AWS call lands on the stub, which reports it: nothing leaves the machine.
        ("AWS_ENDPOINT_URL", &stub),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", &home.to_string_lossy()),
        ("RUST_LOG", "info"),
        ("FAILURE_INJECTION", "disabled"),
    ]);
    env.extend(function_environment(target, &stub)?);
    Ok(env)
}

/// What `template.yaml` sets for each function, with every URL on the stub.
fn function_environment(target: &Target, stub: &str) -> Result<Env, String> {
    let table = |name: &str| Ok(pairs(&[("TABLE_NAME", name)]));
    match target.binary.as_str() {
        BASELINE => Ok(Vec::new()),
        "customer" => table("customers"),
        "inventory" => table("inventory"),
        "order" => table("orders"),
        "payment" => table("payments"),
        "notification" => table("notifications"),
        "gateway" => gateway_environment(target.secrets.as_ref(), stub),
        "gateway-fanout" => Ok(pairs(&[
            ("TABLE_NAME", "gateway"),
            ("NOTIFICATION_URL", &format!("{stub}/notification/")),
            ("SERVICE_AUTH", "aws_iam"),
            ("WEBSOCKET_ENDPOINT", &format!("{stub}/prod")),
        ])),
        other => Err(format!("no environment is known for {other:?}")),
    }
}

fn gateway_environment(secrets: Option<&GatewaySecrets>, stub: &str) -> Result<Env, String> {
    let url = |service: &str| format!("{stub}/{service}/");
    let mut env = pairs(&[
        ("TABLE_NAME", "gateway"),
        ("RATE_LIMIT_TABLE", "ratelimits"),
        ("BREAKERS_TABLE", "breakers"),
        ("CUSTOMER_URL", &url("customer")),
        ("INVENTORY_URL", &url("inventory")),
        ("ORDER_URL", &url("order")),
        ("PAYMENT_URL", &url("payment")),
        ("NOTIFICATION_URL", &url("notification")),
        ("SERVICE_AUTH", "aws_iam"),
        ("CORS_ALLOWED_ORIGINS", "https://shop.example.com"),
        (
            "TEMPORAL_UI_URL",
            "https://cloud.temporal.io/namespaces/shop.a1b2c",
        ),
        ("WEBSOCKET_ENDPOINT", &format!("{stub}/prod")),
        // The Temporal client connects at the first checkout, never at start.
        ("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        ("TEMPORAL_NAMESPACE", "shop.a1b2c"),
    ]);
    match secrets {
        Some(GatewaySecrets::Values {
            jwt_secret,
            payload_keys,
        }) => env.extend(pairs(&[
            ("JWT_SECRET", jwt_secret),
            ("PAYLOAD_KEYS", payload_keys),
        ])),
        Some(GatewaySecrets::SecretsManager {
            endpoint,
            jwt_secret_arn,
            payload_keys_arn,
        }) => env.extend(pairs(&[
            ("JWT_SECRET_ARN", jwt_secret_arn),
            ("PAYLOAD_KEYS_ARN", payload_keys_arn),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint),
        ])),
        None => return Err("the gateway needs its secrets".into()),
    }
    Ok(env)
}

/// The method and path of an HTTP request whose head is `head`, once its request line
/// is complete.
pub fn request_line(head: &[u8]) -> Option<(String, String)> {
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    Some((method, path))
}

/// The stages a started function marked (`service_kit::startup`) in its standard error
/// `stderr`, each as its offset from `spawned_us` (microseconds since the Unix epoch),
/// in order. A stage marked again gets its count, `aws-config (2)`.
pub fn stage_marks(stderr: &str, spawned_us: u128) -> Vec<(String, Duration)> {
    let mut marks: Vec<(String, Duration)> = Vec::new();
    for line in stderr.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some(service_kit::startup::PREFIX) {
            continue;
        }
        let (Some(stage), Some(Ok(at))) = (words.next(), words.next().map(str::parse::<u128>))
        else {
            continue;
        };
        let seen = marks
            .iter()
            .filter(|(name, _)| name == stage || name.starts_with(&format!("{stage} (")))
            .count();
        let name = match seen {
            0 => stage.to_owned(),
            n => format!("{stage} ({})", n + 1),
        };
        let offset = at.saturating_sub(spawned_us);
        marks.push((
            name,
            Duration::from_micros(u64::try_from(offset).unwrap_or(u64::MAX)),
        ));
    }
    marks
}

/// The order in which round `round` starts `count` targets: rotated by one each round,
/// so that no target always follows the same one (nor always comes first).
pub fn round_order(count: usize, round: usize) -> Vec<usize> {
    (0..count).map(|i| (i + round) % count.max(1)).collect()
}

/// What one start measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From spawning the process to its first `invocation/next`.
    pub to_first_poll: Duration,
    /// The stages it marked, when asked to (`COLDSTART_STAGES=1`).
    pub stages: Vec<(String, Duration)>,
}

/// The samples of one target.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub samples: Vec<Sample>,
}

impl Series {
    /// The `q` quantile (nearest rank) of the time to the first poll.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut times: Vec<Duration> = self.samples.iter().map(|s| s.to_first_poll).collect();
        times.sort_unstable();
        quantile(&times, q)
    }

    /// The median offset of each stage, in the order of the first sample that marked it,
    /// then the first poll.
    pub fn stage_medians(&self) -> Vec<(String, Duration)> {
        let mut names: Vec<String> = Vec::new();
        for sample in &self.samples {
            for (name, _) in &sample.stages {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        let mut medians: Vec<(String, Duration)> = names
            .into_iter()
            .map(|name| {
                let mut offsets: Vec<Duration> = self
                    .samples
                    .iter()
                    .flat_map(|s| s.stages.iter().filter(|(n, _)| *n == name))
                    .map(|(_, offset)| *offset)
                    .collect();
                offsets.sort_unstable();
                (name, quantile(&offsets, 0.5))
            })
            .collect();
        medians.push(("first poll".to_owned(), self.quantile(0.5)));
        medians
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The table of results: per target, median and p90 and their ratios to the baseline
/// (the first series), and whether the median ratio meets `target_ratio`.
pub fn report(series: &[(String, Series)], target_ratio: f64) -> String {
    use std::fmt::Write;
    let Some((_, baseline)) = series.first() else {
        return String::new();
    };
    let (base_median, base_p90) = (baseline.quantile(0.5), baseline.quantile(0.9));
    let mut out = format!(
        "{:<44} {:>5} {:>9} {:>9} {:>8} {:>8}  target <= {target_ratio:.2}x\n",
        "function", "runs", "median", "p90", "median/", "p90/"
    );
    let _ = writeln!(
        out,
        "{:<44} {:>5} {:>9} {:>9} {:>8} {:>8}",
        "", "", "ms", "ms", "hello", "hello"
    );
    for (i, (label, s)) in series.iter().enumerate() {
        let (median, p90) = (s.quantile(0.5), s.quantile(0.9));
        let ratio = ms(median) / ms(base_median);
        let verdict = match i {
            0 => "baseline",
            _ if ratio <= target_ratio => "met",
            _ => "MISSED",
        };
        let _ = writeln!(
            out,
            "{label:<44} {:>5} {:>9.2} {:>9.2} {:>8.2} {:>8.2}  {verdict}",
            s.samples.len(),
            ms(median),
            ms(p90),
            ratio,
            ms(p90) / ms(base_p90),
        );
    }
    out
}

/// Each target's stages: the median offset from the spawn of each, and the time from
/// the stage before it.
pub fn stages_report(series: &[(String, Series)]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (label, s) in series {
        let medians = s.stage_medians();
        if medians.len() < 2 {
            continue;
        }
        let _ = writeln!(
            out,
            "{label}: median ms from spawn (+ since the stage before)"
        );
        let mut before = Duration::ZERO;
        for (stage, at) in medians {
            let since = at.saturating_sub(before);
            let _ = writeln!(out, "  {stage:<28} {:>7.2}  (+{:.2})", ms(at), ms(since));
            before = at;
        }
    }
    out
}

#[cfg(test)]
mod tests;
