//! Log output goes to stderr: one JSON object per line by default (see
//! `json_log` for the shape, `redact` for redaction), or human-readable
//! for local development. Stdout is kept for what a command prints for its
//! user (ids, the one-time admin password) and, when enabled, CloudWatch
//! EMF metric lines, so secrets shown once never enter the log stream.
//!
//! Lines are written by background threads (formatting stays on the
//! request path, the write syscalls do not); the buffers never drop lines:
//! when one is full, logging callers wait. A thread writes whatever lines
//! have queued up meanwhile in one syscall (`batched`), not one each: under
//! load that was a write per request.

use std::sync::OnceLock;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::{FilterExt, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat};
use crate::emf::{self, EmfLayer};
use crate::json_log::{Format, JsonLayer, LineStats};
use crate::redact::Redactor;

/// Keep alive until exit: dropping it flushes what is still buffered.
pub struct LogGuard {
    _guards: Vec<WorkerGuard>,
}

/// The line counters of the installed subscriber: one per process, like
/// the subscriber (a second `init` in the same process reuses it).
static STATS: OnceLock<LineStats> = OnceLock::new();

pub fn line_stats() -> LineStats {
    STATS.get_or_init(LineStats::default).clone()
}

/// The writer thread flushes each time its queue runs empty, so a line
/// waits in this buffer only while the lines queued behind it are copied
/// in. The buffer takes whole lines (one longer than it is written on its
/// own), so a flush splits no line.
fn batched<W: std::io::Write>(out: W) -> std::io::BufWriter<W> {
    std::io::BufWriter::with_capacity(64 * 1024, out)
}

/// Installs the global subscriber.
pub fn init(config: &Config) -> LogGuard {
    let env = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // The request span carries the request id, the job span marks work
    // that serves no request; both must exist whatever the level, or a WARN
    // inside a request would lose its id at `ISMS_LOG=warn`.
    let filter = env.or(filter_fn(|m| {
        m.is_span()
            && ((m.name() == "request" && m.target() == emf::SOURCE_TARGET)
                || m.name() == crate::json_log::JOB_SPAN)
    }));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(batched(std::io::stderr()));
    let mut guards = vec![guard];
    let format = match config.log_format {
        LogFormat::Json => Format::Json,
        LogFormat::Pretty => Format::Pretty,
    };
    let log = JsonLayer::new(writer, &config.service_name, &config.environment)
        .format(format)
        .redactor(Redactor::new(&config.log_redact_fields))
        .stats(line_stats())
        .with_filter(filter);
    let emf = config.cloudwatch_emf.then(|| {
        let (out, guard) = NonBlockingBuilder::default()
            .lossy(false)
            .finish(batched(std::io::stdout()));
        guards.push(guard);
        EmfLayer::new(
            out,
            &config.cloudwatch_namespace,
            &config.service_name,
            &config.environment,
        )
        .with_filter(Targets::new().with_target(emf::SOURCE_TARGET, tracing::Level::INFO))
    });
    // A second init (tests start several servers in one process) is a no-op.
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(emf)
        .try_init();
    LogGuard { _guards: guards }
}
