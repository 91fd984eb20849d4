//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! Label values are bounded by construction: routes are templates (or
//! `<unmatched>`), methods are the standard ones (or `OTHER`), statuses are
//! three digits, tiers and outcomes are fixed sets.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isms_domain::events::{SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::{EventSink, PoolStats};
use isms_domain::ratelimit::Tier;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use secrecy::{ExposeSecret, SecretString};

use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;

/// Latency buckets (seconds): fine below 10 ms where the API lives, coarse
/// up to the request deadline.
const DURATION_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
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
        }))
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

    fn observe(&self, method: &Method, route: &str, status: StatusCode, started: Instant) {
        let method = method_label(method);
        let status = status.as_str();
        self.http_requests
            .with_label_values(&[method, route, status])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(started.elapsed().as_secs_f64());
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

/// Counts every request, including those answered by the timeout, panic
/// and body-limit layers (it sits just inside the request context).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    metrics.in_flight.inc();
    let res = next.run(req).await;
    metrics.in_flight.dec();
    let route = res
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", |p| p.as_str());
    metrics.observe(&method, route, res.status(), started);
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
