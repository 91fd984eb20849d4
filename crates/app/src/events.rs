//! Event sinks. Until the audit log subscribes, security events go to the
//! structured log (ids only, never secrets or personal data).

use std::sync::Arc;

use isms_domain::events::SecurityEvent;
use isms_domain::ports::EventSink;

/// Writes each event as one `security.<kind>` log line.
pub struct LogSink;

impl EventSink for LogSink {
    fn publish(&self, e: SecurityEvent) {
        tracing::info!(
            event = e.kind.as_str(),
            outcome = e.outcome.as_str(),
            tenant_id = e.tenant_id.map(|t| t.to_string()),
            actor_user_id = e.actor_user_id.map(|u| u.to_string()),
            target_user_id = e.target_user_id.map(|u| u.to_string()),
            session_id = e.session_id.map(|s| s.to_string()),
            ip = e.meta.ip.as_deref(),
            request_id = e.meta.request_id.as_deref(),
            details = (!e.details.is_null()).then(|| e.details.to_string()),
            "security.event"
        );
    }
}

/// Fans one event out to several subscribers.
#[derive(Clone, Default)]
pub struct EventBus {
    subscribers: Vec<Arc<dyn EventSink>>,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.subscribers.push(sink);
        self
    }
}

impl EventSink for EventBus {
    fn publish(&self, event: SecurityEvent) {
        for s in &self.subscribers {
            s.publish(event.clone());
        }
    }
}
