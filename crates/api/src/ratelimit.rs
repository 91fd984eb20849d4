//! Tiered rate limiting: per client IP on every limited route, and per
//! user on authenticated ones (checked by the access layer once the
//! caller is known). Every limited response carries `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining`, `X-RateLimit-Reset` and `RateLimit-Policy`
//! for the tighter of the two budgets; a 429 carries `Retry-After`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isms_domain::ports::LimiterStore;
use isms_domain::ratelimit::{Decision, Tier, TierQuotas};

use crate::client_ip::ClientIp;
use crate::error::ApiError;

#[derive(Clone)]
pub struct RateLimiter {
    pub store: Arc<dyn LimiterStore>,
    pub quotas: TierQuotas,
    pub enabled: bool,
    /// Counts 429s per tier.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Which tier a route draws from; `Auth` routes are marked in the route
/// table, the rest go by method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTier {
    Auth,
    ByMethod,
}

impl RouteTier {
    pub fn resolve(self, method: &Method) -> Tier {
        match self {
            RouteTier::Auth => Tier::Auth,
            RouteTier::ByMethod if method == Method::GET || method == Method::HEAD => Tier::Read,
            RouteTier::ByMethod if method == Method::OPTIONS => Tier::Read,
            RouteTier::ByMethod => Tier::Write,
        }
    }
}

/// The user-level decision, handed from the access layer to this one.
#[derive(Debug, Clone, Copy)]
pub struct UserDecision(pub Decision);

impl RateLimiter {
    async fn check(&self, key: &str, tier: Tier) -> Result<Decision, ApiError> {
        self.store
            .check_rate(key, self.quotas.of(tier))
            .await
            // The store falls back to in-process counting by itself; an
            // error here means even that failed.
            .map_err(|e| ApiError::from(isms_app::AppError::from(e)))
    }

    /// The per-user check, run by the access layer after authentication.
    pub async fn check_user(
        &self,
        user: isms_domain::UserId,
        method: &Method,
        route_tier: RouteTier,
    ) -> Result<Option<Decision>, ApiError> {
        if !self.enabled {
            return Ok(None);
        }
        let tier = route_tier.resolve(method);
        let d = self
            .check(&format!("rl:{}:user:{user}", tier.as_str()), tier)
            .await?;
        if !d.allowed {
            self.metrics.rate_limited(tier);
        }
        Ok(Some(d))
    }

    pub fn tier_policy(&self, tier: Tier) -> String {
        self.quotas.of(tier).policy_header()
    }
}

fn client_ip(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
}

/// Writes the limit headers for `d` into `headers`.
pub fn set_headers(headers: &mut HeaderMap, d: &Decision, policy: &str) {
    headers.insert("x-ratelimit-limit", d.limit.into());
    headers.insert("x-ratelimit-remaining", d.remaining.into());
    let reset = d.reset_after.as_secs() + u64::from(d.reset_after.subsec_nanos() > 0);
    headers.insert("x-ratelimit-reset", reset.into());
    if let Ok(v) = HeaderValue::from_str(policy) {
        headers.insert("ratelimit-policy", v);
    }
}

/// A 429 for a spent budget, with every header.
pub fn rejection(d: &Decision, policy: &str) -> Response {
    let mut res = ApiError::rate_limited(d.retry_after).into_response();
    set_headers(res.headers_mut(), d, policy);
    res
}

/// The per-IP layer of one route.
pub async fn layer(
    State((limiter, route_tier)): State<(RateLimiter, RouteTier)>,
    req: Request,
    next: Next,
) -> Response {
    if !limiter.enabled {
        return next.run(req).await;
    }
    let tier = route_tier.resolve(req.method());
    let policy = limiter.tier_policy(tier);
    let Some(ip) = client_ip(&req) else {
        return next.run(req).await;
    };
    let key = format!("rl:{}:ip:{ip}", tier.as_str());
    let ip_decision = match limiter.check(&key, tier).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    if !ip_decision.allowed {
        limiter.metrics.rate_limited(tier);
        return rejection(&ip_decision, &policy);
    }
    let mut res = next.run(req).await;
    // The tighter budget is the one the client should see.
    let shown = match res.extensions().get::<UserDecision>() {
        Some(UserDecision(u)) if u.remaining < ip_decision.remaining || !u.allowed => *u,
        _ => ip_decision,
    };
    set_headers(res.headers_mut(), &shown, &policy);
    res
}
