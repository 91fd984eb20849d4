//! CORS: off unless origins are configured. Allowed origins get standard
//! CORS responses; a preflight from any other origin is refused with 403
//! and carries no CORS headers at all. `*` is never accepted (see config).

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;

pub fn apply(router: Router, origins: &[String]) -> Router {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if allowed.is_empty() {
        return router;
    }
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed.clone()))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::HeaderName::from_static("x-request-id")])
        .expose_headers([header::HeaderName::from_static("x-request-id")])
        .max_age(std::time::Duration::from_secs(600));
    router.layer(cors).layer(middleware::from_fn(move |req: Request, next: Next| {
        let allowed = allowed.clone();
        async move { refuse_foreign_preflight(req, next, &allowed).await }
    }))
}

async fn refuse_foreign_preflight(req: Request, next: Next, allowed: &[HeaderValue]) -> Response {
    let is_preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
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
    next.run(req).await
}
