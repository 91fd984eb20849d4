//! Log output goes to stderr, as JSON lines by default. Stdout is kept for
//! what a command prints for its user (ids, the one-time admin password),
//! so secrets shown once never enter the log stream.
//!
//! Lines are written by a background thread (formatting stays on the
//! request path, the write syscalls do not); the buffer never drops lines:
//! when it is full, logging callers wait.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. Keep the returned guard alive until
/// exit: dropping it flushes what is still buffered.
pub fn init(config: &Config) -> WorkerGuard {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // A second init (tests start several servers in one process) is a no-op.
    let _ = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
    };
    guard
}
