//! Security headers on every response, errors included.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The docs page loads only its own embedded script, styles and images;
/// Swagger UI sets inline styles at run time, hence `'unsafe-inline'` for
/// styles only (never scripts).
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), \
microphone=(), payment=(), usb=(), interest-cohort=()";

const PERMISSIONS_POLICY_HEADER: HeaderName = HeaderName::from_static("permissions-policy");
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");
const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");

/// Every response carries these; built at compile time, inserted into a map
/// reserved once (this runs on every request).
const COMMON: [(HeaderName, HeaderValue); 8] = [
    (
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        PERMISSIONS_POLICY_HEADER,
        HeaderValue::from_static(PERMISSIONS_POLICY),
    ),
    (COOP, HeaderValue::from_static("same-origin")),
    (CORP, HeaderValue::from_static("same-origin")),
];

pub fn apply(headers: &mut HeaderMap, is_docs: bool) {
    headers.reserve(COMMON.len() + 1);
    for (name, value) in COMMON {
        headers.insert(name, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if is_docs { DOCS_CSP } else { API_CSP }),
    );
    headers.remove(header::SERVER);
    headers.remove(X_POWERED_BY);
}
