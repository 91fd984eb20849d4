//! Log output goes to stderr: one JSON object per line by default (see
//! `json_log` for the shape and redaction), or human-readable for local
//! development. Stdout is kept for what a command prints for its user
//! (ids, the one-time admin password), so secrets shown once never enter
//! the log stream.
//!
//! Lines are written by a background thread (formatting stays on the
//! request path, the write syscalls do not); the buffer never drops lines:
//! when it is full, logging callers wait.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat};
use crate::json_log::JsonLayer;

/// Installs the global subscriber. Keep the returned guard alive until
/// exit: dropping it flushes what is still buffered.
pub fn init(config: &Config) -> WorkerGuard {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests start several servers in one process) is a no-op.
    let _ = match config.log_format {
        LogFormat::Json => registry
            .with(JsonLayer::new(writer, "isms", &config.environment))
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .pretty()
                    .with_writer(writer),
            )
            .try_init(),
    };
    guard
}
