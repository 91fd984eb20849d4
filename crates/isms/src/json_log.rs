//! The JSON log shape operators ship to their log store: one object per
//! line with exactly `timestamp` (RFC 3339 UTC, milliseconds, `Z`),
//! `level`, `message` (a stable dotted event name), `service`,
//! `environment`, `request_id` (from the enclosing request span, or null)
//! and `context` (the event's fields).
//!
//! Redaction is structural: a field whose name is on the deny-list is
//! written as `"[REDACTED]"`, and a value that looks like a JWT or a bearer
//! credential is masked whatever its field is called.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub const REDACTED: &str = "[REDACTED]";

/// Field names (compared lower-cased, also as substrings for the longer
/// ones) whose values never reach the log.
const DENY_EXACT: &[&str] = &[
    "code",
    "otp",
    "totp",
    "email",
    "e_mail",
    "cookie",
    "authorization",
];
const DENY_CONTAINS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "private_key",
    "master_key",
    "mfa",
    "credential",
];

/// Case-insensitive substring test without allocating: this runs for
/// every field of every log line.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let n = needle.len();
    n == 0
        || hay
            .as_bytes()
            .windows(n)
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn denied(name: &str) -> bool {
    DENY_EXACT.iter().any(|d| name.eq_ignore_ascii_case(d))
        || DENY_CONTAINS.iter().any(|d| contains_ignore_case(name, d))
}

/// A JWT (three base64url segments, the first a JSON header) or a bearer
/// credential, wherever it appears in the value.
fn looks_like_credential(value: &str) -> bool {
    value.contains("eyJ") && value.split('.').filter(|p| !p.is_empty()).count() >= 3
        || contains_ignore_case(value, "bearer ")
}

fn clean(name: &str, value: Value) -> Value {
    if denied(name) {
        return Value::String(REDACTED.into());
    }
    match value {
        Value::String(s) if looks_like_credential(&s) => Value::String(REDACTED.into()),
        other => other,
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    context: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.context.insert(
                field.name().into(),
                clean(field.name(), Value::String(value.into())),
            );
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.context
            .insert(field.name().into(), clean(field.name(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.context
            .insert(field.name().into(), clean(field.name(), value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.context
            .insert(field.name().into(), clean(field.name(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.context
            .insert(field.name().into(), clean(field.name(), value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.record_str(field, &s);
    }
}

/// The request id of a span, kept in its extensions.
struct SpanRequestId(String);

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

pub struct JsonLayer<W> {
    writer: W,
    service: String,
    environment: String,
}

impl<W> JsonLayer<W> {
    pub fn new(writer: W, service: &str, environment: &str) -> Self {
        Self {
            writer,
            service: service.to_owned(),
            environment: environment.to_owned(),
        }
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

impl<S, W> tracing_subscriber::Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = RequestIdVisitor(None);
        attrs.record(&mut v);
        if let (Some(rid), Some(span)) = (v.0, ctx.span(id)) {
            span.extensions_mut().insert(SpanRequestId(rid));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let request_id = ctx.event_scope(event).and_then(|scope| {
            scope.from_root().find_map(|span| {
                span.extensions()
                    .get::<SpanRequestId>()
                    .map(|r| r.0.clone())
            })
        });
        // Written field by field (no intermediate JSON tree): this runs for
        // every request.
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(b"{\"timestamp\":\"");
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        bytes.extend_from_slice(now.as_bytes());
        bytes.extend_from_slice(b"\",\"level\":\"");
        bytes.extend_from_slice(level_name(event.metadata().level()).as_bytes());
        bytes.extend_from_slice(b"\",\"message\":");
        let message = fields
            .message
            .as_deref()
            .unwrap_or_else(|| event.metadata().name());
        let written = serde_json::to_writer(&mut bytes, message)
            .and_then(|()| {
                bytes.extend_from_slice(b",\"service\":");
                serde_json::to_writer(&mut bytes, &self.service)
            })
            .and_then(|()| {
                bytes.extend_from_slice(b",\"environment\":");
                serde_json::to_writer(&mut bytes, &self.environment)
            })
            .and_then(|()| {
                bytes.extend_from_slice(b",\"request_id\":");
                serde_json::to_writer(&mut bytes, &request_id)
            })
            .and_then(|()| {
                bytes.extend_from_slice(b",\"context\":");
                serde_json::to_writer(&mut bytes, &fields.context)
            });
        if written.is_err() {
            return;
        }
        bytes.extend_from_slice(b"}\n");
        let _ = self.writer.make_writer().write_all(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

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

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let out = Capture::default();
        let subscriber =
            tracing_subscriber::registry().with(JsonLayer::new(out.clone(), "isms", "test"));
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
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
                "auth.attempt"
            );
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
        let raw = serde_json::to_string(&lines).unwrap();
        for secret in ["hunter2", "alice@example.com", "123456", jwt] {
            assert!(!raw.contains(secret), "{secret} leaked");
        }
    }
}
