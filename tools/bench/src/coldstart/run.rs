//! One start of one function, against a stub Runtime API of its own.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{NEXT_INVOCATION, Sample, Target, environment, request_line, stage_marks};

/// The longest request head the stub reads.
const MAX_HEAD: usize = 16 * 1024;

/// What the stub saw of one request: when its head was complete, and what it asked for.
struct Arrival {
    at: Instant,
    method: String,
    path: String,
    /// Held open until the function is stopped, so that it never sees its poll fail.
    _connection: TcpStream,
}

/// Starts `target` once and measures the time to its first poll, within `deadline`.
/// With `stages`, the function is asked to mark its start's stages
/// (`service_kit::startup`). The process is killed once it has polled (or failed to).
pub async fn start_once(
    target: &Target,
    home: &Path,
    deadline: Duration,
    stages: bool,
) -> Result<Sample, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let runtime_api = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let mut command = tokio::process::Command::new(&target.program);
    command
        .args(&target.args)
        .env_clear()
        .envs(environment(target, &runtime_api, home)?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if stages {
        command.env(service_kit::startup::STAGES_VAR, "1");
    }
    let (arrivals, mut arrived) = mpsc::channel(8);
    let stub = tokio::spawn(serve(listener, arrivals));

    let spawned_us = unix_micros();
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", target.program.display()))?;
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));

    let outcome = tokio::time::timeout(deadline, async {
        tokio::select! {
            arrival = arrived.recv() => arrival.ok_or_else(|| "the stub stopped".to_owned()),
            status = child.wait() => Err(format!("exited ({}) before its first poll",
                status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()))),
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("did not poll within {deadline:?}")));

    let _ = child.start_kill();
    let _ = child.wait().await;
    stub.abort();
    let stdout = stdout.await.unwrap_or_default();
    let stderr = stderr.await.unwrap_or_default();
    let failed = |why: String| {
        format!(
            "{}: {why}\n{}{}",
            target.label,
            tail(&stdout),
            tail(&stderr)
        )
    };
    let arrival = outcome.map_err(failed)?;
    if arrival.method != "GET" || arrival.path != NEXT_INVOCATION {
        return Err(failed(format!(
            "asked for {} {} before its first poll (an AWS call at start? every AWS endpoint points at the stub)",
            arrival.method, arrival.path
        )));
    }
    Ok(Sample {
        to_first_poll: arrival.at.duration_since(spawned),
        stages: stage_marks(&stderr, spawned_us),
    })
}

/// Accepts every connection and reports each request head as it completes; several
/// connections may be open at once (an SDK call and the runtime's poll).
async fn serve(listener: TcpListener, arrivals: mpsc::Sender<Arrival>) {
    while let Ok((connection, _)) = listener.accept().await {
        tokio::spawn(read_head(connection, arrivals.clone()));
    }
}

async fn read_head(mut connection: TcpStream, arrivals: mpsc::Sender<Arrival>) {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 4096];
    loop {
        match connection.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        if let Some((method, path)) = request_line(&head) {
            let at = Instant::now();
            let _ = arrivals
                .send(Arrival {
                    at,
                    method,
                    path,
                    _connection: connection,
                })
                .await;
            return;
        }
        if head.len() > MAX_HEAD {
            return;
        }
    }
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let mut text = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut text).await;
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The last lines of a process's output, for an error message.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(20);
    lines[start..]
        .iter()
        .map(|line| format!("  | {line}\n"))
        .collect()
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default()
}
