//! Cold-start stages, timed on demand. With `COLDSTART_STAGES=1`, each [`mark`] writes
//! `coldstart-stage <stage> <microseconds since the Unix epoch>` to standard error, so
//! that the `coldstart` benchmark (tools/bench) can place each stage of a function's
//! start against the moment it spawned the process. The wall clock, not `Instant`,
//! because the two processes share no other clock.
//!
//! Off (the default, and on AWS), a mark costs a check of a flag read once: the
//! variable is read at the first mark only.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable that turns the marks on.
pub const STAGES_VAR: &str = "COLDSTART_STAGES";

/// What a mark line starts with.
pub const PREFIX: &str = "coldstart-stage";

/// Records that the start of this process has reached `stage`.
pub fn mark(stage: &str) {
    static ON: OnceLock<bool> = OnceLock::new();
    if !*ON.get_or_init(|| std::env::var_os(STAGES_VAR).is_some_and(|v| v == "1")) {
        return;
    }
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    eprintln!("{PREFIX} {stage} {micros}");
}
