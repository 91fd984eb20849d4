//! Health probes. Liveness touches nothing; readiness asks the database
//! (and Redis when configured), each bounded by a timeout so a hung
//! dependency cannot hang the probe; detailed health adds the error
//! budget, SLO signals, quality score, audit log and key ages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Auth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "health",
    security(()),
    responses((status = 200, description = "The server is alive", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckResult {
    /// `ok`, `unavailable` (database: not ready) or `degraded` (Redis:
    /// unreachable, counting in process meanwhile).
    pub status: &'static str,
    pub latency_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when every dependency answers, `degraded` while Redis is
    /// configured but unreachable (the in-process fallback serves).
    #[schema(example = "ok")]
    pub status: &'static str,
    pub checks: ReadinessChecks,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub database: CheckResult,
    /// Present when Redis is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<CheckResult>,
}

impl ReadinessChecks {
    fn database_ok(&self) -> bool {
        self.database.status == "ok"
    }

    fn all_ok(&self) -> bool {
        self.database_ok() && self.redis.as_ref().is_none_or(|r| r.status == "ok")
    }
}

async fn timed<F: std::future::Future<Output = bool>>(
    timeout: std::time::Duration,
    check: F,
) -> (bool, f64) {
    let started = std::time::Instant::now();
    let ok = tokio::time::timeout(timeout, check).await.unwrap_or(false);
    (ok, started.elapsed().as_secs_f64() * 1000.0)
}

/// Both checks at once, each within the readiness timeout.
async fn checks(state: &AppState) -> ReadinessChecks {
    let timeout = state.readiness_timeout;
    let database = timed(timeout, async { state.store_health.ping().await.is_ok() });
    let redis = async {
        let configured = state.continuity.redis_ok();
        match tokio::time::timeout(timeout, configured).await {
            Ok(None) => None,
            Ok(Some(ok)) => Some(ok),
            Err(_) => Some(false),
        }
    };
    let started = std::time::Instant::now();
    let ((db_ok, db_ms), redis) = tokio::join!(database, redis);
    let redis_ms = started.elapsed().as_secs_f64() * 1000.0;
    ReadinessChecks {
        database: CheckResult {
            status: if db_ok { "ok" } else { "unavailable" },
            latency_ms: db_ms,
        },
        redis: redis.map(|ok| CheckResult {
            status: if ok { "ok" } else { "degraded" },
            latency_ms: redis_ms,
        }),
    }
}

/// Readiness: the server can reach its database (and Redis, if set).
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Ready to serve (`ok`, or `degraded` while Redis is unreachable)", body = Readiness),
        (status = 503, description = "The database is unavailable (`not_ready`, checks in `details`)", body = ErrorBody)
    )
)]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let checks = checks(&state).await;
    if !checks.database_ok() {
        tracing::warn!("health.database_unavailable");
        // Failing readiness is an error response like any other, with the
        // checks as details so the probe's reader sees what failed.
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "A dependency is unavailable.",
        )
        .with_details(serde_json::json!({ "status": "unavailable", "checks": checks }))
        .into_response();
    }
    let status = if checks.all_ok() { "ok" } else { "degraded" };
    Json(Readiness { status, checks }).into_response()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitStatus {
    pub enabled: bool,
    /// `redis` or `in-process` (the fallback while Redis is unreachable,
    /// or when none is configured).
    #[schema(example = "redis")]
    pub backend: &'static str,
    /// 429s answered by this instance since start, per tier.
    pub rejections: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditStatus {
    /// Entries in the caller's tenant log.
    pub log_size: u64,
    pub last_checkpoint_at: Option<String>,
    pub last_checkpoint_age_secs: Option<u64>,
    /// The last verification this instance saw: `{ "ok", "at" }`.
    #[schema(value_type = Object)]
    pub last_verification: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyAgeStatus {
    pub key: String,
    pub key_id: String,
    pub created_at: String,
    pub age_days: u64,
    pub rotate_after_days: u64,
    pub within_rotation: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SloStatus {
    pub signal_window_secs: u64,
    /// `{signal, observed, threshold, unit, breached}` per signal.
    #[schema(value_type = Vec<Object>)]
    pub signals: serde_json::Value,
    /// When each signal last raised an alert from this instance.
    #[schema(value_type = Object)]
    pub last_alerts: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailedHealth {
    /// `ok` when every component is, else `degraded`.
    #[schema(example = "ok")]
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub checks: ReadinessChecks,
    pub rate_limit: RateLimitStatus,
    /// `{sla_target, window_days, total, failed, client_errors,
    /// observed_availability, budget_consumed_pct, remaining_ratio,
    /// exhausted, backend}`.
    #[schema(value_type = Object)]
    pub error_budget: serde_json::Value,
    pub slo: SloStatus,
    /// `{score, gate, passes_gate, pillars, inputs}`.
    #[schema(value_type = Object)]
    pub quality: serde_json::Value,
    pub audit: AuditStatus,
    pub keys: Vec<KeyAgeStatus>,
}

fn secs_since(at: isms_domain::time::Timestamp, now: isms_domain::time::Timestamp) -> u64 {
    u64::try_from((now - at).num_seconds().max(0)).unwrap_or(0)
}

/// Detailed health for operators (admin or auditor).
#[utoipa::path(
    get,
    path = "/api/v1/health/detailed",
    tag = "health",
    security(("bearer" = [])),
    responses((status = 200, description = "Component status", body = DetailedHealth))
)]
pub async fn detailed(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<DetailedHealth>, ApiError> {
    use isms_domain::ratelimit::Tier;
    let checks = checks(&state).await;
    let c = &state.continuity;
    let budget = c.budget().await;
    let signals = c.signals(&budget);
    let quality = c.quality(&budget);
    let audit = c.audit_log_status(who.tenant_id).await?;
    let now = isms_domain::time::now();
    let m = &state.metrics;
    let to_json = |v: &dyn erased::Json| v.json();
    Ok(Json(DetailedHealth {
        status: if checks.all_ok() { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started_at.elapsed().as_secs(),
        checks,
        rate_limit: RateLimitStatus {
            enabled: state.limiter.enabled,
            backend: state.limiter.store.backend(),
            rejections: serde_json::json!({
                "auth": m.rejections(Tier::Auth),
                "write": m.rejections(Tier::Write),
                "read": m.rejections(Tier::Read),
            }),
        },
        error_budget: to_json(&budget),
        slo: SloStatus {
            signal_window_secs: c.settings().signal_window.as_secs(),
            signals: to_json(&signals),
            last_alerts: serde_json::Value::Object(
                c.last_alerts()
                    .into_iter()
                    .map(|(s, at)| (s.as_str().to_owned(), serde_json::json!(at)))
                    .collect(),
            ),
        },
        quality: to_json(&quality),
        audit: AuditStatus {
            log_size: audit.size,
            last_checkpoint_at: audit.last_checkpoint_at.map(|t| t.to_rfc3339()),
            last_checkpoint_age_secs: audit.last_checkpoint_at.map(|t| secs_since(t, now)),
            last_verification: match c.last_verification() {
                Some((ok, at)) => serde_json::json!({ "ok": ok, "at": at }),
                None => serde_json::Value::Null,
            },
        },
        keys: c
            .key_ages()
            .into_iter()
            .map(|k| KeyAgeStatus {
                age_days: k.age(now).as_secs() / 86_400,
                rotate_after_days: k.rotate_after.as_secs() / 86_400,
                within_rotation: k.within_rotation(now),
                created_at: k.created_at.to_rfc3339(),
                key: k.key,
                key_id: k.key_id,
            })
            .collect(),
    }))
}

/// Serialises any of the continuity snapshots (they are plain data).
mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
