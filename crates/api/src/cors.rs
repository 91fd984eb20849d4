//! CORS: off unless origins are configured. Allowed origins get standard
//! CORS responses; a preflight from any other origin is refused with 403
//! and carries no CORS headers at all. `*` is never accepted (see config).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;

pub fn apply(router: Router, origins: &[String]) -> Router {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        // Config refuses `*`, but this is public API: a wildcard here would
        // make `AllowOrigin::list` panic, so it is dropped (never honoured).
        .filter(|o| o.trim() != "*")
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if allowed.is_empty() {
        return router;
    }
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed.clone()))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([header::HeaderName::from_static("x-request-id")])
        .max_age(std::time::Duration::from_secs(600));
    router
        .layer(cors)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let allowed = allowed.clone();
            async move { guard_origin(req, next, &allowed).await }
        }))
}

/// Refuses preflights from other origins, and strips the CORS headers that
/// `CorsLayer` adds whatever the origin (`Vary` aside, it sends
/// `Access-Control-Expose-Headers` on every non-preflight response, even
/// with no `Origin` at all), so only allowed origins ever see any.
async fn guard_origin(req: Request, next: Next, allowed: &[HeaderValue]) -> Response {
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let origin_allowed = req
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|o| allowed.contains(o));
    if is_preflight && !origin_allowed {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cors_origin_not_allowed",
            "This origin may not call the API.",
        )
        .into_response();
    }
    let mut res = next.run(req).await;
    if !origin_allowed {
        let cors: Vec<_> = res
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            res.headers_mut().remove(name);
        }
    }
    res
}
