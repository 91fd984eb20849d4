//! The log shape operators ship to their log store: one object per
//! line with exactly `timestamp` (RFC 3339 UTC, milliseconds, `Z`),
//! `level`, `message` (a stable dotted event name), `service`,
//! `environment`, `request_id` (from the enclosing request span, or null)
//! and `context` (the event's fields, redacted by `redact`). The pretty
//! format for local development prints the same fields, equally redacted.
//!
//! Third-party events (sqlx, hyper) without a dotted name are named after
//! their target (`sqlx::query` → `sqlx.query`), their free text moved to
//! `context.text`, so `message` stays a stable event name on every line.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::redact::Redactor;

pub use crate::redact::REDACTED;

/// Raw fields of one event, before redaction.
#[derive(Default)]
pub(crate) struct Fields {
    pub message: Option<String>,
    pub values: Vec<(&'static str, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.values
                .push((field.name(), Value::String(value.into())));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.values.push((field.name(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.values.push((field.name(), value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.values.push((field.name(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.values.push((field.name(), value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.record_str(field, &s);
    }
}

impl Fields {
    pub fn of(event: &Event<'_>) -> Self {
        let mut f = Self::default();
        event.record(&mut f);
        f
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// `a.b_c.d`: lower-case words joined by dots, at least two of them.
fn is_event_name(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 128
        && s.split('.').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// The event name from a target: `sqlx::query` → `sqlx.query`.
fn name_from_target(target: &str) -> String {
    let name: String = target
        .replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.contains('.') {
        name
    } else {
        format!("{name}.event")
    }
}

/// The stable event name of an event and, when it had free text instead,
/// that text.
pub(crate) fn event_name(event: &Event<'_>, message: Option<String>) -> (String, Option<String>) {
    match message {
        Some(m) if is_event_name(&m) => (m, None),
        other => (name_from_target(event.metadata().target()), other),
    }
}

/// The request id of a span, kept in its extensions (by whichever layer
/// sees the span first).
pub(crate) struct SpanRequestId(pub String);

struct RequestIdVisitor(Option<String>);

impl Visit for RequestIdVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "request_id" {
            let mut id = String::with_capacity(40);
            let _ = write!(id, "{value:?}");
            // `%id` formats bare; a `?id` of a string comes quoted.
            let bare = id.trim_matches('"');
            if bare.len() != id.len() {
                id = bare.to_owned();
            }
            self.0 = Some(id);
        }
    }
}

pub(crate) fn remember_request_id<S>(attrs: &Attributes<'_>, span: Option<SpanRef<'_, S>>)
where
    S: for<'a> LookupSpan<'a>,
{
    let mut v = RequestIdVisitor(None);
    attrs.record(&mut v);
    if let (Some(rid), Some(span)) = (v.0, span) {
        let mut ext = span.extensions_mut();
        if ext.get_mut::<SpanRequestId>().is_none() {
            ext.insert(SpanRequestId(rid));
        }
    }
}

/// Whether the event happens inside background work (a `job` span).
fn in_job<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event)
        .is_some_and(|mut scope| scope.any(|span| span.name() == JOB_SPAN))
}

/// The span name of start-up and background work.
pub const JOB_SPAN: &str = "job";

pub(crate) fn request_id_of<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event).and_then(|scope| {
        scope.from_root().find_map(|span| {
            span.extensions()
                .get::<SpanRequestId>()
                .map(|r| r.0.clone())
        })
    })
}

/// Lines written, and how many carried a request id (auditability signal).
/// Lines that serve no request by design — inside a `job` span
/// (start-up, background jobs) or server lifecycle events (`server.*`) —
/// are not counted; a line outside any span is, since that is how a lost
/// request context shows.
#[derive(Debug, Clone, Default)]
pub struct LineStats {
    with_request_id: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
}

impl isms_domain::continuity::LogLineStats for LineStats {
    fn lines(&self) -> (u64, u64) {
        (
            self.with_request_id.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Pretty,
}

pub struct JsonLayer<W> {
    writer: W,
    /// `,"service":…,"environment":…,"request_id":`, escaped once.
    fixed: Vec<u8>,
    format: Format,
    redactor: Redactor,
    stats: LineStats,
}

impl<W> JsonLayer<W> {
    pub fn new(writer: W, service: &str, environment: &str) -> Self {
        let mut fixed = b",\"service\":".to_vec();
        crate::json_escape::write_str(&mut fixed, service);
        fixed.extend_from_slice(b",\"environment\":");
        crate::json_escape::write_str(&mut fixed, environment);
        fixed.extend_from_slice(b",\"request_id\":");
        Self {
            writer,
            fixed,
            format: Format::Json,
            redactor: Redactor::default(),
            stats: LineStats::default(),
        }
    }

    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    pub fn stats(mut self, stats: LineStats) -> Self {
        self.stats = stats;
        self
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        // TRACE folds into DEBUG: the shape has four levels.
        _ => "DEBUG",
    }
}

/// One context field: its key and where its value, already redacted and
/// written as JSON, sits in `Scratch::values`.
struct Entry {
    key: &'static str,
    start: usize,
    end: usize,
}

/// Per-thread buffers for building lines: every request logs one, so the
/// line is written straight into reused memory instead of through a
/// `serde_json::Map`.
#[derive(Default)]
struct Scratch {
    line: Vec<u8>,
    values: Vec<u8>,
    entries: Vec<Entry>,
    message: String,
    has_message: bool,
    formatted: String,
    request_id: String,
    clock: Clock,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Runs `f` with this thread's buffers. They are taken out while in use,
/// so an event logged while formatting a field (or during thread exit)
/// simply starts from empty ones.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.try_with(std::cell::Cell::take).unwrap_or_default();
    let r = f(&mut scratch);
    let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    r
}

/// The RFC 3339 seconds of the last line (`2026-01-01T00:00:00`), so most
/// lines only append milliseconds.
#[derive(Default)]
struct Clock {
    secs: Option<i64>,
    prefix: String,
}

impl Clock {
    /// Appends `now` as `to_rfc3339_opts(SecondsFormat::Millis, true)`
    /// does: `2026-01-01T00:00:00.000Z`.
    fn write(&mut self, now: chrono::DateTime<chrono::Utc>, out: &mut Vec<u8>) {
        let millis = now.timestamp_subsec_millis();
        if millis >= 1000 {
            // A leap second: rare enough for the general formatter.
            let text = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            out.extend_from_slice(text.as_bytes());
            return;
        }
        let secs = now.timestamp();
        if self.secs != Some(secs) {
            let text = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            self.prefix.clear();
            self.prefix.push_str(text.trim_end_matches('Z'));
            self.secs = Some(secs);
        }
        out.extend_from_slice(self.prefix.as_bytes());
        // `millis` < 1000: three digits.
        let digits = [
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
            b'Z',
        ];
        out.extend_from_slice(&digits);
    }
}

/// Records an event's fields into `Scratch`: the message text aside, every
/// other field redacted and written as a JSON value at once.
struct FieldWriter<'a> {
    redactor: &'a Redactor,
    values: &'a mut Vec<u8>,
    entries: &'a mut Vec<Entry>,
    message: &'a mut String,
    has_message: &'a mut bool,
    formatted: &'a mut String,
}

impl FieldWriter<'_> {
    fn push(&mut self, key: &'static str, write: impl FnOnce(&Redactor, &mut Vec<u8>)) {
        let start = self.values.len();
        write(self.redactor, self.values);
        self.entries.push(Entry {
            key,
            start,
            end: self.values.len(),
        });
    }

    /// A number or boolean: as serde_json writes it, unless its key is
    /// denied (a numeric `code` is still a code).
    fn scalar(&mut self, field: &Field, value: impl serde::Serialize) {
        self.push(field.name(), |redactor, out| {
            let start = out.len();
            if redactor.denied(field.name()) || serde_json::to_writer(&mut *out, &value).is_err() {
                out.truncate(start);
                crate::json_escape::write_str(out, REDACTED);
            }
        });
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.clear();
            self.message.push_str(value);
            *self.has_message = true;
        } else {
            self.push(field.name(), |redactor, out| {
                redactor.write_str(field.name(), value, out);
            });
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.scalar(field, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.scalar(field, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // Non-finite numbers are `null`, as in `serde_json::Value`.
        self.scalar(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.scalar(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = std::mem::take(self.formatted);
        text.clear();
        let _ = write!(text, "{value:?}");
        self.record_str(field, &text);
        *self.formatted = text;
    }
}

/// The stable event name of an event that had `message` (or none), and
/// whether that message is free text that goes into `context.text`.
fn write_event_name(event: &Event<'_>, message: Option<&str>, out: &mut Vec<u8>) -> bool {
    match message {
        Some(m) if is_event_name(m) => {
            crate::json_escape::write_str(out, m);
            false
        }
        other => {
            crate::json_escape::write_str(out, &name_from_target(event.metadata().target()));
            other.is_some()
        }
    }
}

impl<W> JsonLayer<W> {
    /// Builds the line of `event` into `scratch.line`; returns whether it
    /// carried a request id and whether its event name is `server.*`.
    fn build_line<S>(
        &self,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        scratch: &mut Scratch,
    ) -> (bool, bool)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Scratch {
            line,
            values,
            entries,
            message,
            has_message,
            formatted,
            request_id,
            clock,
        } = scratch;
        line.clear();
        values.clear();
        entries.clear();
        *has_message = false;
        event.record(&mut FieldWriter {
            redactor: &self.redactor,
            values: &mut *values,
            entries: &mut *entries,
            message: &mut *message,
            has_message: &mut *has_message,
            formatted: &mut *formatted,
        });
        let message = has_message.then_some(message.as_str());

        // The event name first (into `formatted`, now free), since free
        // text becomes one more context field.
        formatted.clear();
        let mut name = std::mem::take(formatted).into_bytes();
        let free_text = write_event_name(event, message, &mut name);
        if let (true, Some(text)) = (free_text, message) {
            let start = values.len();
            self.redactor.write_str("text", text, values);
            entries.push(Entry {
                key: "text",
                start,
                end: values.len(),
            });
        }
        // `Map` order: keys sorted, a repeated key keeps its last value
        // (the sort is stable).
        entries.sort_by(|a, b| a.key.cmp(b.key));

        let has_request_id = ctx
            .event_scope(event)
            .and_then(|scope| {
                scope.from_root().find_map(|span| {
                    span.extensions().get::<SpanRequestId>().map(|r| {
                        request_id.clear();
                        request_id.push_str(&r.0);
                    })
                })
            })
            .is_some();
        let level = level_name(event.metadata().level());
        let lifecycle = name.starts_with(b"\"server.");

        match self.format {
            Format::Json => {
                line.extend_from_slice(b"{\"timestamp\":\"");
                clock.write(chrono::Utc::now(), line);
                line.extend_from_slice(b"\",\"level\":\"");
                line.extend_from_slice(level.as_bytes());
                line.extend_from_slice(b"\",\"message\":");
                line.extend_from_slice(&name);
                line.extend_from_slice(&self.fixed);
                if has_request_id {
                    crate::json_escape::write_str(line, request_id);
                } else {
                    line.extend_from_slice(b"null");
                }
                line.extend_from_slice(b",\"context\":{");
                let mut first = true;
                for (i, e) in entries.iter().enumerate() {
                    if entries.get(i + 1).is_some_and(|next| next.key == e.key) {
                        continue;
                    }
                    if !first {
                        line.push(b',');
                    }
                    first = false;
                    crate::json_escape::write_str(line, e.key);
                    line.push(b':');
                    line.extend_from_slice(&values[e.start..e.end]);
                }
                line.extend_from_slice(b"}}\n");
            }
            Format::Pretty => {
                // `2026-01-01T00:00:00.000Z  INFO request.completed request_id=… k=v`
                clock.write(chrono::Utc::now(), line);
                let _ = write!(line, " {level:>5} ");
                // The name without its JSON quotes (event names need no
                // escaping; target-derived ones are `[a-z0-9._]`).
                line.extend_from_slice(
                    name.get(1..name.len().saturating_sub(1))
                        .unwrap_or_default(),
                );
                if has_request_id {
                    line.extend_from_slice(b" request_id=");
                    line.extend_from_slice(request_id.as_bytes());
                }
                for (i, e) in entries.iter().enumerate() {
                    if entries.get(i + 1).is_some_and(|next| next.key == e.key) {
                        continue;
                    }
                    line.push(b' ');
                    line.extend_from_slice(e.key.as_bytes());
                    line.push(b'=');
                    line.extend_from_slice(&values[e.start..e.end]);
                }
                line.push(b'\n');
            }
        }
        // Give the buffer back for the next line.
        name.clear();
        *formatted = String::from_utf8(name).unwrap_or_default();
        (has_request_id, lifecycle)
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        remember_request_id(attrs, ctx.span(id));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        with_scratch(|scratch| {
            let (has_request_id, lifecycle) = self.build_line(event, &ctx, scratch);
            if has_request_id {
                self.stats.with_request_id.fetch_add(1, Ordering::Relaxed);
                self.stats.total.fetch_add(1, Ordering::Relaxed);
            } else if !lifecycle && !in_job(event, &ctx) {
                self.stats.total.fetch_add(1, Ordering::Relaxed);
            }
            let _ = self.writer.make_writer().write_all(&scratch.line);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use isms_domain::continuity::LogLineStats as _;
    use serde_json::Map;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    pub(crate) struct Capture(pub Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture_with(layer: impl FnOnce(Capture) -> JsonLayer<Capture>, f: impl FnOnce()) -> String {
        let out = Capture::default();
        let subscriber = tracing_subscriber::registry().with(layer(out.clone()));
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        capture_with(|w| JsonLayer::new(w, "isms", "test"), f)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn every_line_has_exactly_the_shape() {
        let lines = capture(|| {
            tracing::info!(a = 1, "outside.request");
            let span = tracing::info_span!("request", request_id = "req-123", method = "GET");
            span.in_scope(|| {
                let inner = tracing::debug_span!("db");
                inner.in_scope(|| tracing::warn!(rows = 2u64, ok = true, "store.slow_query"));
            });
        });
        assert_eq!(lines.len(), 2);
        for line in &lines {
            let keys: Vec<&str> = line
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                [
                    "context",
                    "environment",
                    "level",
                    "message",
                    "request_id",
                    "service",
                    "timestamp"
                ]
            );
            let ts = line["timestamp"].as_str().unwrap();
            assert!(
                ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000Z".len(),
                "{ts}"
            );
        }
        assert_eq!(lines[0]["request_id"], Value::Null);
        assert_eq!(lines[0]["message"], "outside.request");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(
            lines[1]["request_id"], "req-123",
            "nested spans inherit the request id"
        );
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(
            lines[1]["context"],
            serde_json::json!({ "rows": 2, "ok": true })
        );
    }

    #[test]
    fn free_text_messages_become_target_names() {
        let lines = capture(|| {
            tracing::info!(target: "sqlx::query", rows = 1, "SELECT 1 took a while");
            tracing::info!(target: "hyper", summary = "x");
        });
        assert_eq!(lines[0]["message"], "sqlx.query");
        assert_eq!(lines[0]["context"]["text"], "SELECT 1 took a while");
        assert_eq!(lines[1]["message"], "hyper.event");
        assert!(is_event_name("request.completed"));
        assert!(is_event_name("auth.login_failed"));
        assert!(!is_event_name("Request completed."));
        assert!(!is_event_name("single"));
    }

    #[test]
    fn secrets_and_credentials_are_redacted() {
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let lines = capture(|| {
            tracing::info!(
                password = "hunter2-hunter2",
                new_password = "x",
                refresh_token = "abc",
                email = "alice@example.com",
                code = "123456",
                api_key = "k",
                note = jwt,
                header = "Bearer abc.def",
                user_id = "u-1",
                details = r#"{"nested":{"totp_secret":"JBSWY3DP","who":"carol@example.org"}}"#,
                "auth.attempt"
            );
            tracing::warn!("login failed for dave@example.net");
        });
        let ctx = &lines[0]["context"];
        for key in [
            "password",
            "new_password",
            "refresh_token",
            "email",
            "code",
            "api_key",
            "note",
            "header",
        ] {
            assert_eq!(ctx[key], REDACTED, "{key}");
        }
        assert_eq!(ctx["user_id"], "u-1");
        assert_eq!(ctx["details"]["nested"]["totp_secret"], REDACTED);
        assert_eq!(ctx["details"]["nested"]["who"], REDACTED);
        let raw = serde_json::to_string(&lines).unwrap();
        for secret in [
            "hunter2",
            "alice@example.com",
            "123456",
            jwt,
            "JBSWY3DP",
            "carol@",
            "dave@",
        ] {
            assert!(!raw.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn pretty_format_is_redacted_too() {
        let text = capture_with(
            |w| JsonLayer::new(w, "isms", "dev").format(Format::Pretty),
            || {
                let span = tracing::info_span!("request", request_id = "r-9");
                span.in_scope(|| tracing::info!(password = "s3cret-pw", status = 200, "x.y"));
            },
        );
        assert!(text.contains(" INFO x.y request_id=r-9"), "{text}");
        assert!(text.contains("status=200"), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(text.contains(REDACTED), "{text}");
    }

    #[test]
    fn configured_extra_keys_are_redacted() {
        let lines: Vec<Value> = capture_with(
            |w| {
                JsonLayer::new(w, "isms", "test")
                    .redactor(Redactor::new(&["customer_ref".to_owned()]))
            },
            || tracing::info!(customer_ref = "C-42", other = "ok", "x.y"),
        )
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
        assert_eq!(lines[0]["context"]["customer_ref"], REDACTED);
        assert_eq!(lines[0]["context"]["other"], "ok");
    }

    #[test]
    fn lines_with_request_ids_are_counted() {
        let stats = LineStats::default();
        let s = stats.clone();
        capture_with(
            move |w| JsonLayer::new(w, "isms", "test").stats(s),
            || {
                tracing::info!("a.b");
                tracing::info_span!("request", request_id = "r").in_scope(|| {
                    tracing::info!("c.d");
                    tracing::info!("e.f");
                });
                // Background work and lifecycle lines serve no request.
                tracing::info_span!("job", job = "x").in_scope(|| tracing::info!("g.h"));
                tracing::info!("server.listening");
            },
        );
        assert_eq!(stats.lines(), (2, 3));
    }

    /// The map-based line builder this module had before: fields into a
    /// `serde_json::Map`, each cleaned by `Redactor::clean`. The direct
    /// writer must produce byte for byte the same `context`.
    struct Reference {
        redactor: Redactor,
        contexts: Arc<Mutex<Vec<String>>>,
    }

    impl<S: Subscriber> tracing_subscriber::Layer<S> for Reference {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let fields = Fields::of(event);
            let (_, text) = event_name(event, fields.message);
            let mut context = Map::new();
            for (k, v) in fields.values {
                context.insert(k.to_owned(), self.redactor.clean(k, v));
            }
            if let Some(t) = text {
                context.insert("text".into(), self.redactor.clean("text", Value::String(t)));
            }
            self.contexts
                .lock()
                .unwrap()
                .push(serde_json::to_string(&context).unwrap());
        }
    }

    struct Loud;
    impl std::fmt::Debug for Loud {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // Logging from inside a field's formatting must not corrupt
            // the line being built around it (`tracing` drops such a
            // nested event).
            tracing::info!(inner = "yes", "nested.event");
            f.write_str("loud \"value\"")
        }
    }

    fn all_kinds_of_events() {
        events(true);
    }

    /// Six lines (five without the event whose field logs while it is
    /// formatted).
    fn events(loud: bool) {
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let span = tracing::info_span!("request", request_id = "r-\"1\"");
        span.in_scope(|| {
            tracing::info!(
                method = %"GET",
                route = "/api/v1/health",
                status = 200u16,
                duration_ms = 0.123_456_f64,
                client_ip = Some("127.0.0.1"),
                user_id = None::<&str>,
                response_bytes = Some(15u64),
                "request.completed"
            );
            tracing::info!(
                quote = "say \"hi\"",
                backslash = r"C:\temp\x",
                control = "a\nb\r\tc\u{0}\u{1f}\u{7f}",
                unicode = "Grüße 東京 🚀 \u{2028}",
                password = "hunter2",
                code = 987_654,
                status_code = 404,
                pin = true,
                note = jwt,
                mail = "mail bob@example.com now",
                details = r#"{"b":{"totp_secret":"x"},"a":[1,"eve@example.org"]}"#,
                array = "[1, 2]",
                not_json = "{oops",
                nan = f64::NAN,
                inf = f64::INFINITY,
                neg = -7i64,
                big = u64::MAX,
                dbg = ?vec!["a\"b"],
                "a.b"
            );
            tracing::warn!(
                text = "field text",
                z = 1,
                a = 2,
                z = 3,
                "Free text with \"quotes\""
            );
            if loud {
                tracing::error!(loud = ?Loud, after = "x", "c.d");
            }
        });
        tracing::info!(target: "sqlx::query", "SELECT * FROM users WHERE email = 'x@y.example'");
        tracing::debug!("");
    }

    #[test]
    fn lines_match_the_map_based_reference() {
        let out = Capture::default();
        let contexts = Arc::new(Mutex::new(Vec::new()));
        let redactor = Redactor::new(&["customer_ref".to_owned()]);
        let subscriber = tracing_subscriber::registry()
            .with(JsonLayer::new(out.clone(), "isms", "test").redactor(redactor.clone()))
            .with(Reference {
                redactor,
                contexts: contexts.clone(),
            });
        tracing::subscriber::with_default(subscriber, || events(false));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let contexts = contexts.lock().unwrap();
        assert_eq!(lines.len(), contexts.len());
        assert_eq!(lines.len(), 5, "{text}");
        for (line, expected) in lines.iter().zip(contexts.iter()) {
            let context = line
                .split_once(",\"context\":")
                .and_then(|(_, c)| c.strip_suffix('}'))
                .unwrap();
            assert_eq!(context, expected, "{line}");
            // Every line is one JSON object.
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v.as_object().unwrap().len(), 7);
        }
    }

    #[test]
    fn escaping_edge_cases_survive_a_round_trip() {
        let lines = capture(all_kinds_of_events);
        let a = &lines[1];
        assert_eq!(a["request_id"], "r-\"1\"");
        let ctx = &a["context"];
        assert_eq!(ctx["quote"], "say \"hi\"");
        assert_eq!(ctx["backslash"], r"C:\temp\x");
        assert_eq!(ctx["control"], "a\nb\r\tc\u{0}\u{1f}\u{7f}");
        assert_eq!(ctx["unicode"], "Grüße 東京 🚀 \u{2028}");
        // Debug output that is JSON text is cleaned as JSON, like any
        // other field.
        assert_eq!(ctx["dbg"], serde_json::json!(["a\"b"]));
        assert_eq!(ctx["nan"], Value::Null);
        assert_eq!(ctx["inf"], Value::Null);
        assert_eq!(ctx["neg"], -7);
        assert_eq!(ctx["big"], u64::MAX);
        assert_eq!(ctx["array"], serde_json::json!([1, 2]));
        assert_eq!(ctx["not_json"], "{oops");
        // Secrets, whatever their type or nesting.
        assert_eq!(ctx["password"], REDACTED);
        assert_eq!(ctx["code"], REDACTED, "a numeric code is still a code");
        assert_eq!(ctx["pin"], REDACTED);
        assert_eq!(ctx["status_code"], 404);
        assert_eq!(ctx["note"], REDACTED);
        assert_eq!(ctx["mail"], REDACTED);
        assert_eq!(ctx["details"]["b"]["totp_secret"], REDACTED);
        assert_eq!(ctx["details"]["a"], serde_json::json!([1, REDACTED]));
        // A repeated key keeps its last value; free text wins over a
        // `text` field.
        let w = &lines[2];
        assert_eq!(w["message"], "isms.json_log.tests");
        assert_eq!(w["context"]["text"], "Free text with \"quotes\"");
        assert_eq!(w["context"]["z"], 3);
        // The event logged while a field was formatted is dropped; the
        // line around it is whole.
        assert_eq!(lines[3]["message"], "c.d");
        assert_eq!(lines[3]["context"]["loud"], "loud \"value\"");
        assert_eq!(lines[3]["context"]["after"], "x");
        assert_eq!(lines[3]["request_id"], "r-\"1\"");
        assert_eq!(lines[4]["message"], "sqlx.query");
        assert_eq!(lines[4]["context"]["text"], REDACTED);
        assert_eq!(lines[4]["request_id"], Value::Null);
        assert_eq!(lines[5]["context"]["text"], "");
        assert!(
            !serde_json::to_string(&lines)
                .unwrap()
                .contains("nested.event")
        );
        let raw = serde_json::to_string(&lines).unwrap();
        for secret in ["hunter2", "987654", "bob@", "eve@", "x@y", "eyJhbGci"] {
            assert!(!raw.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn lines_are_single_lines() {
        let text = capture_with(
            |w| JsonLayer::new(w, "is\"ms", "te\nst"),
            all_kinds_of_events,
        );
        assert_eq!(text.matches('\n').count(), 6);
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["service"], "is\"ms");
            assert_eq!(v["environment"], "te\nst");
        }
    }

    #[test]
    fn pretty_lines_match_the_reference_too() {
        let text = capture_with(
            |w| JsonLayer::new(w, "isms", "dev").format(Format::Pretty),
            all_kinds_of_events,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines[0].ends_with(
                " INFO request.completed request_id=r-\"1\" client_ip=\"127.0.0.1\" \
                 duration_ms=0.123456 method=\"GET\" response_bytes=15 route=\"/api/v1/health\" status=200"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[2].contains(" WARN isms.json_log.tests request_id="),
            "{}",
            lines[2]
        );
        assert!(lines[2].ends_with(" a=2 text=\"Free text with \\\"quotes\\\"\" z=3"));
        assert!(!text.contains("hunter2") && !text.contains("987654"));
    }

    #[test]
    fn timestamps_are_rfc3339_milliseconds() {
        use chrono::TimeZone as _;
        let mut clock = Clock::default();
        let mut out = Vec::new();
        for (secs, nanos) in [
            (1_796_000_000, 0),
            (1_796_000_000, 7_999_999),
            (1_796_000_000, 999_999_999),
            (1_796_000_001, 120_000_000),
            (0, 5_000_000),
            // Leap second (chrono's nanosecond overflow).
            (1_796_000_039, 1_500_000_000),
        ] {
            let t = chrono::Utc.timestamp_opt(secs, nanos).unwrap();
            out.clear();
            clock.write(t, &mut out);
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
    }
}
