//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! Label values are bounded by construction: routes are templates (or
//! `<unmatched>`), methods are the standard ones (or `OTHER`), statuses are
//! three digits, tiers and outcomes are fixed sets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isms_app::continuity::{ContinuityService, RequestObservation};
use isms_domain::audit::{AlertSeverity, AuditRecord};
use isms_domain::continuity::{AppendOutcome, AuditObserver};
use isms_domain::crypto::{Classification, CryptoObserver, CryptoOp};
use isms_domain::events::{SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::{EventSink, PoolStats};
use isms_domain::ratelimit::Tier;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use secrecy::{ExposeSecret, SecretString};

use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;

/// Latency buckets (seconds), shared with the SLO signals so the p95/p99
/// they compute match what a `histogram_quantile` over this metric shows.
const DURATION_BUCKETS: &[f64] = isms_domain::continuity::slo::LATENCY_BOUNDS_SECS;

/// Audit appends take a transaction: from well under a millisecond to the
/// statement timeout.
const AUDIT_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    in_flight: IntGauge,
    logins: IntCounterVec,
    lockouts: IntCounter,
    rate_limit_rejections: IntCounterVec,
    rate_limit_backend: IntGaugeVec,
    db_pool: IntGaugeVec,
    audit_events: IntCounterVec,
    audit_append: Histogram,
    alerts: IntCounterVec,
    crypto_ops: IntCounterVec,
    budget_remaining: Gauge,
    quality: Gauge,
}

fn counter_vec(
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Result<Arc<Self>, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving a request to its response",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let in_flight = IntGauge::new("http_requests_in_flight", "Requests being served")?;
        let logins = IntCounterVec::new(
            Opts::new(
                "auth_login_total",
                "Login attempts by outcome (success, failure, mfa_failure)",
            ),
            &["outcome"],
        )?;
        let lockouts = IntCounter::new("auth_lockouts_total", "Accounts locked after failures")?;
        let rate_limit_rejections = IntCounterVec::new(
            Opts::new("rate_limit_rejections_total", "Requests refused with 429"),
            &["tier"],
        )?;
        let rate_limit_backend = IntGaugeVec::new(
            Opts::new(
                "rate_limit_backend",
                "1 for the limiter backend in use (redis or in-process)",
            ),
            &["backend"],
        )?;
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("isms_build_info", "Always 1; the labels name the build"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(lockouts.clone()))?;
        registry.register(Box::new(rate_limit_rejections.clone()))?;
        registry.register(Box::new(rate_limit_backend.clone()))?;
        registry.register(Box::new(db_pool.clone()))?;
        registry.register(Box::new(build_info))?;
        let audit_events = counter_vec(
            "audit_events_total",
            "Audit entries committed, by event type",
            &["event_type"],
        )?;
        let audit_append = Histogram::with_opts(
            HistogramOpts::new(
                "audit_append_seconds",
                "Duration of the write that commits audit entries (with a change: its transaction)",
            )
            .buckets(AUDIT_BUCKETS.to_vec()),
        )?;
        let alerts = counter_vec(
            "alerts_total",
            "Alerts raised by committed audit entries, by severity",
            &["severity"],
        )?;
        let crypto_ops = counter_vec(
            "crypto_operations_total",
            "Envelope encryption operations, by operation and classification",
            &["op", "classification"],
        )?;
        let budget_remaining = Gauge::new(
            "error_budget_remaining_ratio",
            "Share of the availability error budget left in the SLO window (0..1)",
        )?;
        let quality = Gauge::new(
            "quality_score",
            "Composite quality score (0..1; production gate 0.70)",
        )?;
        registry.register(Box::new(audit_events.clone()))?;
        registry.register(Box::new(audit_append.clone()))?;
        registry.register(Box::new(alerts.clone()))?;
        registry.register(Box::new(crypto_ops.clone()))?;
        registry.register(Box::new(budget_remaining.clone()))?;
        registry.register(Box::new(quality.clone()))?;
        for severity in [AlertSeverity::High, AlertSeverity::Critical] {
            alerts.with_label_values(&[severity.as_str()]);
        }
        for op in CryptoOp::ALL.map(CryptoOp::as_str) {
            for c in Classification::ALL {
                crypto_ops.with_label_values(&[op, c.as_str()]);
            }
        }
        // Full until a scrape has read the budget.
        budget_remaining.set(1.0);
        // Every series that is a fixed set exists from the start, so rates
        // over it are defined before the first event.
        for tier in [Tier::Auth, Tier::Write, Tier::Read] {
            rate_limit_rejections.with_label_values(&[tier.as_str()]);
        }
        for outcome in ["success", "failure", "mfa_failure"] {
            logins.with_label_values(&[outcome]);
        }
        Ok(Arc::new(Self {
            registry,
            http_requests,
            http_duration,
            in_flight,
            logins,
            lockouts,
            rate_limit_rejections,
            rate_limit_backend,
            db_pool,
            audit_events,
            audit_append,
            alerts,
            crypto_ops,
            budget_remaining,
            quality,
        }))
    }

    /// Sets the gauges computed from the continuity signals.
    pub fn set_continuity(&self, budget_remaining: f64, quality: f64) {
        self.budget_remaining.set(budget_remaining);
        self.quality.set(quality);
    }

    pub fn rate_limited(&self, tier: Tier) {
        self.rate_limit_rejections
            .with_label_values(&[tier.as_str()])
            .inc();
    }

    pub fn rejections(&self, tier: Tier) -> u64 {
        self.rate_limit_rejections
            .with_label_values(&[tier.as_str()])
            .get()
    }

    fn observe(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let status = status.as_str();
        self.http_requests
            .with_label_values(&[method, route, status])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the gauges read at scrape time set first.
    pub fn render(&self, backend: &str, pool: PoolStats) -> Result<String, prometheus::Error> {
        for b in ["redis", "in-process"] {
            self.rate_limit_backend
                .with_label_values(&[b])
                .set(i64::from(b == backend));
        }
        let idle = i64::from(pool.idle);
        let size = i64::from(pool.size);
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool
            .with_label_values(&["in_use"])
            .set((size - idle).max(0));
        self.db_pool
            .with_label_values(&["max"])
            .set(i64::from(pool.max));
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Audit entries, append latency and the alerts the store raised with
/// them (the same rule, `alert_for`, decides).
impl AuditObserver for Metrics {
    fn observed(&self, records: &[AuditRecord], outcome: AppendOutcome, elapsed: Duration) {
        if outcome == AppendOutcome::NotWritten {
            return;
        }
        self.audit_append.observe(elapsed.as_secs_f64());
        if outcome != AppendOutcome::Committed {
            return;
        }
        for r in records {
            // Event types are a fixed set (`SecurityEventKind`).
            self.audit_events
                .with_label_values(&[r.event_type.as_str()])
                .inc();
            if let Some(alert) =
                isms_domain::audit::alert_for(&r.event_type, r.risk_score, &r.compliance_flags)
            {
                self.alerts
                    .with_label_values(&[alert.severity.as_str()])
                    .inc();
                tracing::warn!(
                    severity = alert.severity.as_str(),
                    event_type = r.event_type.as_str(),
                    risk_score = r.risk_score,
                    tenant_id = r.tenant_id.map(|t| t.to_string()),
                    "alert.raised"
                );
            }
        }
    }
}

/// Envelope operations of the key service, by operation and
/// classification (a bounded label set: 2 × 4 series).
impl CryptoObserver for Metrics {
    fn operation(&self, op: CryptoOp, classification: Classification) {
        self.crypto_ops
            .with_label_values(&[op.as_str(), classification.as_str()])
            .inc();
    }
}

impl EventSink for Metrics {
    fn publish(&self, e: SecurityEvent) {
        match e.kind {
            K::LoginSuccess => self.logins.with_label_values(&["success"]).inc(),
            K::LoginFailure => self.logins.with_label_values(&["failure"]).inc(),
            K::MfaFailed => self.logins.with_label_values(&["mfa_failure"]).inc(),
            K::AccountLocked => self.lockouts.inc(),
            _ => {}
        }
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// What the request tracker reports to.
#[derive(Clone)]
pub struct Observer {
    pub metrics: Arc<Metrics>,
    pub continuity: Option<ContinuityService>,
}

/// Routes outside the service level: probes and scrapes poll constantly
/// and would dilute (or, during an outage of a dependency, dominate) it.
fn counts_for_slo(route: &str) -> bool {
    !matches!(
        route,
        "/api/v1/health" | "/api/v1/health/ready" | "/metrics"
    )
}

/// Counts every request, including those answered by the timeout, panic
/// and body-limit layers (it sits just inside the request context).
pub async fn track(State(o): State<Observer>, req: Request, next: Next) -> Response {
    track_around(&o, req, async |req| next.run(req).await).await
}

/// The tracker's work around `inner` (the outer middleware runs it
/// without a `from_fn` layer of its own).
pub(crate) async fn track_around(
    o: &Observer,
    req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let mutation = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    // Only a mutation's id is looked up (for its audit coverage).
    let request_id = mutation
        .then(|| {
            req.extensions()
                .get::<crate::request_id::RequestId>()
                .cloned()
        })
        .flatten();
    o.metrics.in_flight.inc();
    let res = inner(req).await;
    o.metrics.in_flight.dec();
    let elapsed = started.elapsed();
    let route = res
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", |p| p.as_str());
    o.metrics.observe(&method, route, res.status(), elapsed);
    if let Some(c) = &o.continuity {
        let matched = res.extensions().get::<MatchedPath>().is_some();
        c.observe_request(&RequestObservation {
            status: res.status().as_u16(),
            duration: elapsed,
            counts_for_slo: counts_for_slo(route),
            auth: res
                .extensions()
                .get::<crate::access::AuthOutcome>()
                .map(|a| a.0),
            mutation: matched && mutation,
            request_id: request_id.as_ref().map(|r| r.as_str()),
        });
    }
    res
}

/// Who may scrape: clients from these networks, or any client presenting
/// the bearer token.
#[derive(Clone, Default)]
pub struct ScrapeAccess {
    pub allowed_cidrs: Vec<ipnet::IpNet>,
    pub token: Option<SecretString>,
}

impl ScrapeAccess {
    fn allows(&self, ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
        if ip.is_some_and(|ip| isms_domain::net::in_any(&self.allowed_cidrs, ip)) {
            return true;
        }
        let Some(expected) = &self.token else {
            return false;
        };
        crate::access::bearer(headers).is_some_and(|given| {
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.expose_secret().as_bytes())
                .into()
        })
    }
}

/// Prometheus metrics (text exposition format 0.0.4).
///
/// Served to clients from `ISMS_METRICS_ALLOWED_CIDRS` (default loopback)
/// or presenting `Authorization: Bearer <ISMS_METRICS_TOKEN>`; 403 otherwise.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    // Not an API credential: the network check or the metrics token is
    // done by the handler itself.
    security(()),
    responses(
        (status = 200, description = "Metrics", content_type = "text/plain", body = String),
        (status = 403, description = "Not an allowed network and no valid token", body = crate::error::ErrorBody)
    )
)]
pub async fn scrape(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientIp>>,
    headers: HeaderMap,
) -> Response {
    let ip = client.map(|axum::Extension(ClientIp(ip))| ip);
    if !state.scrape_access.allows(ip, &headers) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Metrics are served to allowed networks or with the metrics token.",
        )
        .into_response();
    }
    let budget = state.continuity.budget().await;
    let quality = state.continuity.quality(&budget);
    state
        .metrics
        .set_continuity(budget.remaining_ratio, quality.score);
    match state.metrics.render(
        state.limiter.store.backend(),
        state.store_health.pool_stats(),
    ) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics.render_failed");
            ApiError::internal().into_response()
        }
    }
}
