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

use serde_json::{Map, Value};
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
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
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
    service: String,
    environment: String,
    format: Format,
    redactor: Redactor,
    stats: LineStats,
}

impl<W> JsonLayer<W> {
    pub fn new(writer: W, service: &str, environment: &str) -> Self {
        Self {
            writer,
            service: service.to_owned(),
            environment: environment.to_owned(),
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

impl<W> JsonLayer<W> {
    fn context(
        &self,
        fields: Vec<(&'static str, Value)>,
        text: Option<String>,
    ) -> Map<String, Value> {
        let mut context = Map::new();
        for (k, v) in fields {
            context.insert(k.to_owned(), self.redactor.clean(k, v));
        }
        if let Some(t) = text {
            context.insert("text".into(), self.redactor.clean("text", Value::String(t)));
        }
        context
    }

    /// One JSON line, written field by field (no intermediate tree): this
    /// runs for every request.
    fn json_line(
        &self,
        level: &str,
        message: &str,
        request_id: Option<&str>,
        context: &Map<String, Value>,
    ) -> Option<Vec<u8>> {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(b"{\"timestamp\":\"");
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        bytes.extend_from_slice(now.as_bytes());
        bytes.extend_from_slice(b"\",\"level\":\"");
        bytes.extend_from_slice(level.as_bytes());
        bytes.extend_from_slice(b"\",\"message\":");
        serde_json::to_writer(&mut bytes, message).ok()?;
        bytes.extend_from_slice(b",\"service\":");
        serde_json::to_writer(&mut bytes, &self.service).ok()?;
        bytes.extend_from_slice(b",\"environment\":");
        serde_json::to_writer(&mut bytes, &self.environment).ok()?;
        bytes.extend_from_slice(b",\"request_id\":");
        serde_json::to_writer(&mut bytes, &request_id).ok()?;
        bytes.extend_from_slice(b",\"context\":");
        serde_json::to_writer(&mut bytes, context).ok()?;
        bytes.extend_from_slice(b"}\n");
        Some(bytes)
    }

    /// `2026-01-01T00:00:00.000Z  INFO request.completed request_id=… k=v`
    fn pretty_line(
        &self,
        level: &str,
        message: &str,
        request_id: Option<&str>,
        context: &Map<String, Value>,
    ) -> Vec<u8> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut line = format!("{now} {level:>5} {message}");
        if let Some(rid) = request_id {
            let _ = write!(line, " request_id={rid}");
        }
        for (k, v) in context {
            let _ = write!(line, " {k}={v}");
        }
        line.push('\n');
        line.into_bytes()
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
        let fields = Fields::of(event);
        let (message, text) = event_name(event, fields.message);
        let request_id = request_id_of(event, &ctx);
        let context = self.context(fields.values, text);
        let level = level_name(event.metadata().level());
        let bytes = match self.format {
            Format::Json => {
                match self.json_line(level, &message, request_id.as_deref(), &context) {
                    Some(b) => b,
                    None => return,
                }
            }
            Format::Pretty => self.pretty_line(level, &message, request_id.as_deref(), &context),
        };
        if request_id.is_some() {
            self.stats.with_request_id.fetch_add(1, Ordering::Relaxed);
            self.stats.total.fetch_add(1, Ordering::Relaxed);
        } else if !message.starts_with("server.") && !in_job(event, &ctx) {
            self.stats.total.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self.writer.make_writer().write_all(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use isms_domain::continuity::LogLineStats as _;
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
}
