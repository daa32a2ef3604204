//! Logging: `tracing` with an `EnvFilter` from `OTTSONLY_LOG`, as text or JSON lines.
//!
//! The server's lines are written by a background thread (`tracing-appender`), so a request
//! only formats its access line and hands it over; a slow stdout (a pipe to a log shipper)
//! does not stall requests. Nothing is dropped: when the thread falls 128k lines behind,
//! writers wait, as they did before.

use super::settings::LogFormat;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Where log lines go: the server logs to stdout; CLI commands to stderr, keeping stdout for
/// their output (the `openapi` document, import results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

/// Installs the logger. Keep the returned guard until the process ends: dropping it flushes the
/// lines still queued for the background writer.
pub fn init(filter: &str, format: LogFormat, target: LogTarget) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("OTTSONLY_LOG `{filter}` is not a valid filter: {e}"))?;
    let (writer, guard) = match target {
        LogTarget::Stdout => {
            let (w, guard) = NonBlockingBuilder::default().lossy(false).finish(std::io::stdout());
            (BoxMakeWriter::new(w), Some(guard))
        }
        // Commands are short and print their results to stdout: log lines stay in order with them.
        LogTarget::Stderr => (BoxMakeWriter::new(std::io::stderr), None),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let result = match format {
        // One JSON object per line; the request span (with its request_id) is in `span`.
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(guard)
}
