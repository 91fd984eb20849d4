//! Health probes. Liveness touches nothing; readiness asks the database,
//! bounded by a timeout so a hung database cannot hang the probe.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    pub latency_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when every dependency answers, `unavailable` otherwise.
    #[schema(example = "ok")]
    pub status: &'static str,
    pub checks: ReadinessChecks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub database: CheckResult,
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

/// Readiness: the server can reach its database.
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "A dependency is unavailable (`not_ready`, checks in `details`)", body = ErrorBody)
    )
)]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let started = std::time::Instant::now();
    let ok = matches!(
        tokio::time::timeout(state.readiness_timeout, state.store_health.ping()).await,
        Ok(Ok(()))
    );
    let database = CheckResult {
        status: if ok { "ok" } else { "unavailable" },
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    if !ok {
        tracing::warn!("health.database_unavailable");
    }
    let checks = ReadinessChecks { database };
    if ok {
        Json(Readiness {
            status: "ok",
            checks,
        })
        .into_response()
    } else {
        // Failing readiness is an error response like any other, with the
        // checks as details so the probe's reader sees what failed.
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "A dependency is unavailable.",
        )
        .with_details(serde_json::json!({ "status": "unavailable", "checks": checks }))
        .into_response()
    }
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
pub struct DetailedHealth {
    #[schema(example = "ok")]
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub checks: ReadinessChecks,
    pub rate_limit: RateLimitStatus,
}

/// Detailed health for operators (admin or auditor).
#[utoipa::path(
    get,
    path = "/api/v1/health/detailed",
    tag = "health",
    security(("bearer" = [])),
    responses((status = 200, description = "Component status", body = DetailedHealth))
)]
pub async fn detailed(State(state): State<AppState>) -> Json<DetailedHealth> {
    let started = std::time::Instant::now();
    let ok = matches!(
        tokio::time::timeout(state.readiness_timeout, state.store_health.ping()).await,
        Ok(Ok(()))
    );
    use isms_domain::ratelimit::Tier;
    let m = &state.metrics;
    Json(DetailedHealth {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started_at.elapsed().as_secs(),
        checks: ReadinessChecks {
            database: CheckResult {
                status: if ok { "ok" } else { "unavailable" },
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            },
        },
        rate_limit: RateLimitStatus {
            enabled: state.limiter.enabled,
            backend: state.limiter.store.backend(),
            rejections: serde_json::json!({
                "auth": m.rejections(Tier::Auth),
                "write": m.rejections(Tier::Write),
                "read": m.rejections(Tier::Read),
            }),
        },
    })
}
