//! Request metrics as CloudWatch Embedded Metric Format (EMF) lines
//! (`ISMS_CLOUDWATCH_EMF=true`): one JSON object per `request.completed`
//! event, which CloudWatch Logs turns into metrics without an agent or
//! API calls.
//!
//! The lines go to stdout, apart from the log stream on stderr, because
//! an EMF document's top level (`_aws`, dimensions, metric values) is not
//! the log shape. A line:
//!
//! ```json
//! {"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"isms",
//!   "Dimensions":[["Service","Environment","Route","Method"],["Service","Environment"]],
//!   "Metrics":[{"Name":"Latency","Unit":"Milliseconds"},{"Name":"Requests","Unit":"Count"},
//!              {"Name":"ServerErrors","Unit":"Count"},{"Name":"ClientErrors","Unit":"Count"}]}]},
//!  "Service":"isms","Environment":"production","Route":"/api/v1/users/{id}","Method":"GET",
//!  "Latency":1.42,"Requests":1,"ServerErrors":0,"ClientErrors":0,
//!  "status":200,"request_id":"0190…"}
//! ```
//!
//! Routes are templates, so the dimension values stay bounded.

use std::io::Write as _;

use serde_json::{Value, json};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::json_log::{Fields, event_name, remember_request_id, request_id_of};

/// The event EMF lines are made from.
pub const SOURCE_EVENT: &str = "request.completed";
/// Where that event is emitted (the per-layer filter lets it through
/// whatever `ISMS_LOG` says).
pub const SOURCE_TARGET: &str = "isms_api::context";

pub struct EmfLayer<W> {
    writer: W,
    namespace: String,
    service: String,
    environment: String,
}

impl<W> EmfLayer<W> {
    pub fn new(writer: W, namespace: &str, service: &str, environment: &str) -> Self {
        Self {
            writer,
            namespace: namespace.to_owned(),
            service: service.to_owned(),
            environment: environment.to_owned(),
        }
    }

    /// The EMF document for one finished request.
    pub(crate) fn document(&self, fields: &Fields, request_id: Option<&str>) -> Value {
        let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("unknown");
        let status = fields.get("status").and_then(Value::as_u64).unwrap_or(0);
        let latency = fields
            .get("duration_ms")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        json!({
            "_aws": {
                "Timestamp": chrono::Utc::now().timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [
                        ["Service", "Environment", "Route", "Method"],
                        ["Service", "Environment"],
                    ],
                    "Metrics": [
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "ServerErrors", "Unit": "Count"},
                        {"Name": "ClientErrors", "Unit": "Count"},
                    ],
                }],
            },
            "Service": self.service,
            "Environment": self.environment,
            "Route": text("route"),
            "Method": text("method"),
            "Latency": latency,
            "Requests": 1,
            "ServerErrors": u8::from((500..600).contains(&status)),
            "ClientErrors": u8::from((400..500).contains(&status)),
            "status": status,
            "request_id": request_id,
        })
    }
}

impl<S, W> tracing_subscriber::Layer<S> for EmfLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        remember_request_id(attrs, ctx.span(id));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::of(event);
        let (name, _) = event_name(event, fields.message.take());
        if name != SOURCE_EVENT {
            return;
        }
        let request_id = request_id_of(event, &ctx);
        let doc = self.document(&fields, request_id.as_deref());
        let Ok(mut line) = serde_json::to_vec(&doc) else {
            return;
        };
        line.push(b'\n');
        let _ = self.writer.make_writer().write_all(&line);
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

    /// Checks `doc` against the EMF specification's structure: the
    /// metadata object, each MetricDirective, and that every referenced
    /// dimension is a string and every metric a number at the root.
    pub(crate) fn assert_emf(doc: &Value) {
        let root = doc.as_object().expect("root is an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_u64(), "Timestamp: epoch milliseconds");
        let directives = aws["CloudWatchMetrics"].as_array().expect("array");
        assert!(!directives.is_empty());
        for d in directives {
            let ns = d["Namespace"].as_str().expect("Namespace");
            assert!((1..=1024).contains(&ns.len()));
            for set in d["Dimensions"].as_array().expect("Dimensions") {
                let set = set.as_array().expect("DimensionSet");
                assert!(set.len() <= 30);
                for dim in set {
                    let name = dim.as_str().expect("dimension name");
                    assert!(root[name].is_string(), "dimension {name} must be a string");
                }
            }
            let metrics = d["Metrics"].as_array().expect("Metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for m in metrics {
                let name = m["Name"].as_str().expect("Name");
                assert!((1..=1024).contains(&name.len()));
                let unit = m["Unit"].as_str().expect("Unit");
                assert!(["Milliseconds", "Count"].contains(&unit), "{unit}");
                assert!(root[name].is_number(), "metric {name} must be a number");
            }
        }
    }

    #[test]
    fn request_completed_becomes_an_emf_document() {
        let out = Capture::default();
        let layer = EmfLayer::new(out.clone(), "isms", "isms", "test");
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-1");
            span.in_scope(|| {
                tracing::info!(
                    method = "GET",
                    route = "/api/v1/users/{id}",
                    status = 503u64,
                    duration_ms = 12.5,
                    "request.completed"
                );
                tracing::info!(status = 200u64, "something.else");
            });
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let doc = &lines[0];
        assert_emf(doc);
        assert_eq!(doc["Route"], "/api/v1/users/{id}");
        assert_eq!(doc["Method"], "GET");
        assert_eq!(doc["Latency"], 12.5);
        assert_eq!(doc["ServerErrors"], 1);
        assert_eq!(doc["ClientErrors"], 0);
        assert_eq!(doc["request_id"], "r-1");
    }
}
