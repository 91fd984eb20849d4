//! Delivery of alerts to webhooks: each alert is scheduled once per target,
//! posted with an HMAC-SHA256 signature, retried with backoff, and every
//! attempt's result is recorded. A failing webhook never blocks a request:
//! delivery runs in the background from what the audit append stored.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use isms_domain::ports::{AlertRepository, AuditRepository, WebhookDelivery, WebhookTransport};
use isms_domain::time::{Timestamp, now};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::AppError;

/// Waits before the 2nd, 3rd, ... attempt; after the last the delivery is
/// `failed`.
const BACKOFF: &[Duration] = &[
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(3 * 3600),
];

/// Deliveries attempted per round.
const BATCH: u32 = 50;

#[derive(Clone)]
pub struct AlertDispatcher {
    alerts: Arc<dyn AlertRepository>,
    audit: Arc<dyn AuditRepository>,
    transport: Arc<dyn WebhookTransport>,
    targets: Vec<String>,
    secret: Option<Arc<SecretString>>,
    backoff: Vec<Duration>,
}

impl AlertDispatcher {
    pub fn new(
        alerts: Arc<dyn AlertRepository>,
        audit: Arc<dyn AuditRepository>,
        transport: Arc<dyn WebhookTransport>,
        targets: Vec<String>,
        secret: Option<SecretString>,
    ) -> Self {
        Self {
            alerts,
            audit,
            transport,
            targets,
            secret: secret.map(Arc::new),
            backoff: BACKOFF.to_vec(),
        }
    }

    /// Shorter waits (tests exercise retries without sleeping minutes).
    pub fn with_backoff(mut self, backoff: Vec<Duration>) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn enabled(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Schedules new alerts and attempts every due delivery once; returns
    /// the number of attempts made.
    pub async fn run_once(&self) -> Result<u32, AppError> {
        if !self.enabled() {
            return Ok(0);
        }
        let at = now();
        self.alerts
            .schedule_deliveries(&self.targets, at, BATCH)
            .await?;
        let due = self.alerts.due_deliveries(at, BATCH).await?;
        let mut attempts = 0;
        for d in due {
            // One delivery's trouble (even a store error) must not hold up
            // the others: it is logged and the next one goes on.
            if let Err(e) = self.attempt(d).await {
                tracing::warn!(error = %e, "alert.delivery_failed");
            }
            attempts += 1;
        }
        Ok(attempts)
    }

    async fn attempt(&self, mut d: WebhookDelivery) -> Result<(), AppError> {
        let body = match self.payload(&d).await {
            Ok(body) => body,
            // A delivery whose alert cannot be read counts as a failed
            // attempt (retried, then given up) instead of failing the whole
            // round: the oldest delivery must not block every later one.
            Err(e) => {
                let sent_at = now();
                d.attempts += 1;
                d.last_status = None;
                d.last_error = Some(truncate(&format!("payload: {e}"), 500));
                match retry_at(&self.backoff, d.attempts, sent_at) {
                    Some(next) => d.next_attempt_at = next,
                    None => d.status = "failed".into(),
                }
                tracing::warn!(delivery_id = %d.id, alert_id = %d.alert_id, "alert.payload_failed");
                self.alerts.record_delivery(&d).await?;
                return Ok(());
            }
        };
        let sent_at = now();
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("x-isms-delivery", d.id.to_string()),
            ("x-isms-event", "alert".to_owned()),
        ];
        if let Some(secret) = &self.secret {
            headers.push(("x-isms-signature", signature(secret, sent_at, &body)));
        }
        let ids = body_ids(&body);
        // The request that raised the alert, and its distributed trace, so
        // the receiver's own traces join the caller's.
        for (header, value) in [
            ("x-request-id", ids.request_id),
            ("traceparent", ids.traceparent),
            ("x-amzn-trace-id", ids.amzn_trace_id),
        ] {
            if let Some(v) = value {
                headers.push((header, v));
            }
        }
        let result = self.transport.post(&d.target, body, headers).await;
        d.attempts += 1;
        match result {
            Ok(status) if (200..300).contains(&status) => {
                d.status = "delivered".into();
                d.last_status = Some(status);
                d.last_error = None;
                d.delivered_at = Some(sent_at);
            }
            other => {
                match other {
                    Ok(status) => {
                        d.last_status = Some(status);
                        d.last_error = Some(format!("HTTP {status}"));
                    }
                    Err(e) => {
                        d.last_status = None;
                        d.last_error = Some(truncate(&e, 500));
                    }
                }
                match retry_at(&self.backoff, d.attempts, sent_at) {
                    Some(next) => d.next_attempt_at = next,
                    None => d.status = "failed".into(),
                }
                tracing::warn!(
                    delivery_id = %d.id,
                    alert_id = %d.alert_id,
                    attempts = d.attempts,
                    status = d.status.as_str(),
                    "alert.webhook_failed"
                );
            }
        }
        self.alerts.record_delivery(&d).await?;
        Ok(())
    }

    /// The alert with its audit entry's ids, never personal data.
    /// Server-level alerts (SLO breaches, key rotation from the CLI) go to
    /// the same operator-configured targets as tenant alerts.
    async fn payload(&self, d: &WebhookDelivery) -> Result<Vec<u8>, AppError> {
        let alert = self.alerts.get_for_delivery(d.alert_id).await?;
        let entry = self.audit.get(&alert.log_id, alert.entry_id).await.ok();
        let body = serde_json::json!({
            "type": "alert",
            "delivery_id": d.id,
            "alert": {
                "id": alert.id,
                "tenant_id": alert.tenant_id,
                "severity": alert.severity.as_str(),
                "event_type": alert.event_type,
                "risk_score": alert.risk_score,
                "description": alert.description,
                "required_actions": alert.required_actions,
                "created_at": alert.created_at,
                "log_id": alert.log_id.to_string(),
                "entry_seq": alert.entry_seq,
                "entry_id": alert.entry_id,
            },
            "entry": entry.map(|e| serde_json::json!({
                "request_id": e.record.request_id,
                "actor_user_id": e.record.actor_user_id,
                "session_id": e.record.session_id,
                "resource_type": e.record.resource_type,
                "resource_id": e.record.resource_id,
                "action": e.record.action,
                "outcome": e.record.outcome.as_str(),
                "compliance_flags": e.record.compliance_flags,
                "timestamp": e.timestamp,
                "traceparent": e.record.details.get("traceparent"),
                "amzn_trace_id": e.record.details.get("amzn_trace_id"),
            })),
        });
        serde_json::to_vec(&body).map_err(|e| AppError::Internal(e.to_string()))
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." ‖ body)>`: the
/// timestamp is signed too, so a receiver can refuse replays.
pub fn signature(secret: &SecretString, at: Timestamp, body: &[u8]) -> String {
    let t = at.timestamp();
    let mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).map(|mut m| {
        m.update(format!("{t}.").as_bytes());
        m.update(body);
        m.finalize().into_bytes()
    });
    match mac {
        Ok(tag) => {
            let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
            format!("t={t},v1={hex}")
        }
        // HMAC accepts keys of any length; this cannot happen.
        Err(_) => format!("t={t},v1="),
    }
}

fn retry_at(backoff: &[Duration], attempts: u32, from: Timestamp) -> Option<Timestamp> {
    let wait = backoff.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    chrono::Duration::from_std(*wait).ok().map(|w| from + w)
}

#[derive(Default)]
struct BodyIds {
    request_id: Option<String>,
    traceparent: Option<String>,
    amzn_trace_id: Option<String>,
}

fn body_ids(body: &[u8]) -> BodyIds {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return BodyIds::default();
    };
    let get = |key: &str| {
        v.pointer(&format!("/entry/{key}"))
            .and_then(|x| x.as_str())
            .map(str::to_owned)
    };
    BodyIds {
        request_id: get("request_id"),
        traceparent: get("traceparent"),
        amzn_trace_id: get("amzn_trace_id"),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_backoff_then_stop() {
        let t0 = now();
        let b = [Duration::from_secs(5), Duration::from_secs(30)];
        assert_eq!(retry_at(&b, 1, t0), Some(t0 + chrono::Duration::seconds(5)));
        assert_eq!(
            retry_at(&b, 2, t0),
            Some(t0 + chrono::Duration::seconds(30))
        );
        assert_eq!(retry_at(&b, 3, t0), None);
        assert_eq!(retry_at(&b, 0, t0), None);
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let secret = SecretString::from("k".repeat(32));
        let t = now();
        let a = signature(&secret, t, b"{}");
        assert!(a.starts_with(&format!("t={},v1=", t.timestamp())));
        assert_eq!(a.len(), format!("t={},v1=", t.timestamp()).len() + 64);
        assert_ne!(a, signature(&secret, t, b"{ }"));
        assert_ne!(
            a,
            signature(&secret, t + chrono::Duration::seconds(1), b"{}")
        );
    }
}
