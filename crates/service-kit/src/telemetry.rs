//! Logging: JSON lines under Lambda (CloudWatch parses them), compact text locally.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` filters (default `info`); `LOG_FORMAT`
/// (`json` or `text`) overrides the choice made from the environment.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => crate::serve::running_in_lambda(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init` because tests may initialise more than once in one process.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        // Colours only for a terminal, not for log files.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        builder.compact().with_ansi(ansi).try_init()
    };
}
