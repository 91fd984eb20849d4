//! Wiring of the continuity service: the error-budget counters (Redis with
//! in-process fallback, under the configured key prefix), the key ages it
//! watches, and the observers told about every audit write.

use std::sync::Arc;
use std::time::Duration;

use isms_app::continuity::{AuditObservers, ContinuityDeps, ContinuityService, ContinuitySettings};
use isms_domain::continuity::{BudgetWindow, KeyAge, KeyInventory, SloThresholds};
use isms_infra::KeyRing;
use isms_infra::audit_key::AuditKeyRing;
use isms_infra::budget::ResilientBudget;
use isms_infra::limiter::ResilientLimiter;
use secrecy::ExposeSecret;

use crate::config::Config;

/// How often a budget store that fell back asks Redis whether it is back.
const REDIS_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The token-signing key and the audit log key.
// Extension point (crypto issue): tenant data keys join here.
pub struct ServerKeys {
    pub signing: Arc<KeyRing>,
    pub audit: Arc<AuditKeyRing>,
    pub signing_rotation: Duration,
    pub audit_rotation: Duration,
}

impl KeyInventory for ServerKeys {
    fn key_ages(&self) -> Vec<KeyAge> {
        let mut out = Vec::new();
        if let Some((kid, created_at)) = self.signing.signing_key_created() {
            out.push(KeyAge {
                key: "access_token_signing".into(),
                key_id: kid,
                created_at,
                rotate_after: self.signing_rotation,
            });
        }
        use isms_domain::ports::CheckpointSigner as _;
        out.push(KeyAge {
            key: "audit_checkpoint_signing".into(),
            key_id: self.audit.key_id().to_owned(),
            created_at: self.audit.created_at(),
            rotate_after: self.audit_rotation,
        });
        out
    }
}

pub fn settings(config: &Config) -> ContinuitySettings {
    let slo = &config.slo;
    ContinuitySettings {
        target: slo.target,
        window: BudgetWindow {
            days: slo.window_days,
        },
        thresholds: SloThresholds {
            p95: slo.p95,
            p99: slo.p99,
            max_error_rate: slo.error_rate,
            max_client_error_rate: slo.client_error_rate,
            min_requests: slo.min_requests,
        },
        signal_window: slo.signal_window,
        alert_interval: slo.alert_interval,
    }
}

/// The budget store: counts in process and, with `ISMS_REDIS_URL`, in
/// Redis under `ISMS_REDIS_KEY_PREFIX` (expiring a day after the window).
pub fn budget_store(config: &Config) -> Arc<ResilientBudget> {
    let ttl = Duration::from_secs((u64::from(config.slo.window_days) + 1) * 86_400);
    ResilientBudget::start(
        config
            .redis_url
            .as_ref()
            .map(|u| u.expose_secret().to_owned()),
        &config.redis_key_prefix,
        ttl,
        config.rate_limit_redis_timeout,
        REDIS_PROBE_INTERVAL,
    )
}

pub struct Parts {
    pub app: isms_app::services::Services,
    pub limiter: Arc<ResilientLimiter>,
    pub metrics: Arc<isms_api::metrics::Metrics>,
    pub keys: ServerKeys,
}

/// Builds the continuity service and makes it, with the metrics, the audit
/// trail's observer.
pub fn continuity(config: &Config, p: Parts) -> ContinuityService {
    let budget = budget_store(config);
    let service = ContinuityService::new(
        settings(config),
        ContinuityDeps {
            budget: budget.clone(),
            redis: Some(budget),
            audit: p.app.audit.clone(),
            dedupe: p.limiter,
            keys: Arc::new(p.keys),
            logs: Arc::new(crate::logging::line_stats()),
        },
    );
    p.app.audit.set_observer(Arc::new(AuditObservers(vec![
        p.metrics,
        Arc::new(service.clone()),
    ])));
    service
}
