//! Route access: every route declares, in the route table, either that it
//! is public or the permission it needs. The enforcement layer here
//! authenticates the bearer token (signature, claims, session, account),
//! checks the permission through the application layer (which records
//! denials as security events), and hands the caller to the handler.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isms_domain::events::RequestMeta;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;

use crate::error::ApiError;
use crate::ratelimit::{RouteTier, UserDecision};
use crate::request_id::RequestId;
use crate::state::AppState;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// `None`: public.
    pub permission: Option<Permission>,
    /// Reachable while the account still holds a one-time password (only
    /// what is needed to change it).
    pub before_password_change: bool,
    /// Reachable while the tenant's policy demands MFA the user has not
    /// enrolled yet (only the enrolment itself, and logout).
    pub before_mfa_enrollment: bool,
    /// The rate-limit tier, `None` for exempt routes (health probes).
    pub limit: Option<RouteTier>,
}

impl Access {
    pub const fn public() -> Self {
        Self {
            permission: None,
            before_password_change: true,
            before_mfa_enrollment: true,
            limit: Some(RouteTier::ByMethod),
        }
    }

    pub const fn require(permission: Permission) -> Self {
        Self {
            permission: Some(permission),
            before_password_change: false,
            before_mfa_enrollment: false,
            limit: Some(RouteTier::ByMethod),
        }
    }

    pub const fn even_before_password_change(mut self) -> Self {
        self.before_password_change = true;
        self
    }

    pub const fn even_before_mfa_enrollment(mut self) -> Self {
        self.before_mfa_enrollment = true;
        self
    }

    /// Login, token, refresh and MFA verification: the strict tier.
    pub const fn auth_tier(mut self) -> Self {
        self.limit = Some(RouteTier::Auth);
        self
    }

    /// Not rate limited (health probes, which load balancers poll).
    pub const fn unlimited(mut self) -> Self {
        self.limit = None;
        self
    }

    pub fn is_public(&self) -> bool {
        self.permission.is_none()
    }
}

/// The authenticated caller, put in the request by the access layer.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            // Only reachable if a protected handler sits on a public route.
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// Who made an authenticated request, put on its response for the
/// `request.completed` log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIds {
    pub user_id: String,
    pub tenant_id: String,
}

/// How a protected route's credentials turned out, put on its response
/// for the continuity signals (share of valid credentials, privileged
/// requests under MFA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthOutcome(pub isms_app::continuity::AuthObservation);

/// Where the request came from, for security events.
#[derive(Debug, Clone)]
pub struct Meta(pub RequestMeta);

pub fn request_meta(parts_headers: &HeaderMap, extensions: &axum::http::Extensions) -> RequestMeta {
    let trace = extensions.get::<crate::trace::TraceContext>();
    RequestMeta {
        ip: extensions
            .get::<crate::client_ip::ClientIp>()
            .map(|c| c.0.to_string())
            .or_else(|| {
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            }),
        user_agent: parts_headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
        request_id: extensions.get::<RequestId>().map(|r| r.as_str().to_owned()),
        traceparent: trace.and_then(|t| t.traceparent.clone()),
        amzn_trace_id: trace.and_then(|t| t.amzn_trace_id.clone()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(&parts.headers, &parts.extensions)))
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The enforcement layer for one route.
pub async fn enforce(
    State((state, access)): State<(AppState, Access)>,
    req: Request,
    next: Next,
) -> Response {
    if access.is_public() {
        return next.run(req).await;
    }
    let meta = request_meta(req.headers(), req.extensions());
    let rejected = |res: Response| {
        let mut res = res;
        if res.status() == axum::http::StatusCode::UNAUTHORIZED {
            res.extensions_mut()
                .insert(AuthOutcome(isms_app::continuity::AuthObservation::Rejected));
        }
        res
    };
    let Some(token) = bearer(req.headers()) else {
        return rejected(ApiError::unauthenticated().into_response());
    };
    let principal = match state.auth.authenticate(token, &meta).await {
        Ok(p) => p,
        Err(e) => return rejected(ApiError::from(e).into_response()),
    };
    let caller = CallerIds {
        user_id: principal.user_id.to_string(),
        tenant_id: principal.tenant_id.to_string(),
    };
    let outcome = AuthOutcome(isms_app::continuity::AuthObservation::Valid {
        privileged: principal.can(Permission::UsersWrite),
        mfa_enrolled: principal.mfa_enrolled,
    });
    let user_limit = match access.limit {
        Some(tier) => match state
            .limiter
            .check_user(principal.user_id, req.method(), tier)
            .await
        {
            Ok(Some(d)) if !d.allowed => {
                let policy = state.limiter.tier_policy(tier.resolve(req.method()));
                let mut res = crate::ratelimit::rejection(&d, &policy);
                res.extensions_mut().insert(caller);
                res.extensions_mut().insert(outcome);
                return res;
            }
            Ok(d) => d,
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    let mut res = gate(&state, access, principal, &meta, req, next).await;
    if let Some(d) = user_limit {
        res.extensions_mut().insert(UserDecision(d));
    }
    res.extensions_mut().insert(caller);
    res.extensions_mut().insert(outcome);
    res
}

/// Permission, one-time password and MFA-enrolment gates, then the handler.
async fn gate(
    state: &AppState,
    access: Access,
    principal: Principal,
    meta: &RequestMeta,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(permission) = access.permission else {
        return next.run(req).await;
    };
    if let Err(e) = state.auth.authorize(&principal, permission, meta).await {
        return ApiError::from(e).into_response();
    }
    if principal.password_must_change && !access.before_password_change {
        return ApiError::password_change_required().into_response();
    }
    if principal.must_enrol_mfa() && !access.before_mfa_enrollment {
        return ApiError::mfa_enrollment_required().into_response();
    }
    let who = principal.clone();
    req.extensions_mut().insert(principal);
    let res = next.run(req).await;
    // A permission the service checked itself (beyond the route's) was
    // refused: that denial is a security event like the route's own.
    let denied = res
        .extensions()
        .get::<crate::error::ErrorInfo>()
        .filter(|i| i.code == "forbidden")
        .map(|i| {
            i.details
                .as_ref()
                .and_then(|d| d.get("reason"))
                .and_then(|r| r.as_str())
                .unwrap_or("forbidden")
                .to_owned()
        });
    if let Some(reason) = denied
        && let Err(e) = state.auth.record_denial(&who, &reason, meta).await
    {
        return ApiError::from(e).into_response();
    }
    res
}
