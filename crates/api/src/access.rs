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
}

impl Access {
    pub const fn public() -> Self {
        Self {
            permission: None,
            before_password_change: true,
        }
    }

    pub const fn require(permission: Permission) -> Self {
        Self {
            permission: Some(permission),
            before_password_change: false,
        }
    }

    pub const fn even_before_password_change(mut self) -> Self {
        self.before_password_change = true;
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

/// Where the request came from, for security events.
#[derive(Debug, Clone)]
pub struct Meta(pub RequestMeta);

pub fn request_meta(parts_headers: &HeaderMap, extensions: &axum::http::Extensions) -> RequestMeta {
    RequestMeta {
        ip: extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        user_agent: parts_headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
        request_id: extensions.get::<RequestId>().map(|r| r.as_str().to_owned()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(&parts.headers, &parts.extensions)))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
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
    mut req: Request,
    next: Next,
) -> Response {
    let Some(permission) = access.permission else {
        return next.run(req).await;
    };
    let meta = request_meta(req.headers(), req.extensions());
    let Some(token) = bearer(req.headers()) else {
        return ApiError::unauthenticated().into_response();
    };
    let principal = match state.auth.authenticate(token, &meta).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(e) = state.auth.authorize(&principal, permission, &meta) {
        return ApiError::from(e).into_response();
    }
    if principal.password_must_change && !access.before_password_change {
        return ApiError::password_change_required().into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}
