//! Logging: `tracing` with an `EnvFilter` from `OTTSONLY_LOG`, as text or JSON lines.

use super::settings::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Where log lines go: the server logs to stdout; CLI commands to stderr, keeping stdout for
/// their output (the `openapi` document, import results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

pub fn init(filter: &str, format: LogFormat, target: LogTarget) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("OTTSONLY_LOG `{filter}` is not a valid filter: {e}"))?;
    let writer = match target {
        LogTarget::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogTarget::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let result = match format {
        // One JSON object per line; the request span (with its request_id) is in `span`.
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
