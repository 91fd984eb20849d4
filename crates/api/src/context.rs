//! The outermost middleware: gives every request its id and tracing span,
//! and finishes every response the same way — request id header, security
//! headers, and the JSON error body for any error status, whoever produced
//! it (handler, extractor, router, timeout, body limit or panic handler).

use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::access::CallerIds;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ErrorBody, ErrorInfo};
use crate::request_id::{self, RequestId, X_REQUEST_ID};
use crate::security_headers;
use crate::trace::TraceContext;

pub async fn request_context(req: Request, next: Next) -> Response {
    context_around(req, async |req| next.run(req).await).await
}

/// Everything in front of the routes, as one middleware: request context,
/// then (when given) request metrics, then the client address. Each
/// `from_fn` layer costs a boxed service clone and boxed futures per
/// request, so the three run as one.
#[derive(Clone)]
pub struct Outer {
    pub observer: Option<crate::metrics::Observer>,
    pub trusted: crate::client_ip::TrustedProxies,
}

pub async fn outer(State(o): State<Outer>, req: Request, next: Next) -> Response {
    let trusted = &o.trusted;
    context_around(req, async |req| match &o.observer {
        Some(observer) => {
            crate::metrics::track_around(observer, req, async |req| {
                crate::client_ip::around(trusted, req, async |req| next.run(req).await).await
            })
            .await
        }
        None => crate::client_ip::around(trusted, req, async |req| next.run(req).await).await,
    })
    .await
}

async fn context_around(
    mut req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let started = Instant::now();
    let id = request_id::from_headers(req.headers());
    let id_header = request_id::header_value(&id);
    req.headers_mut().insert(&X_REQUEST_ID, id_header.clone());
    req.extensions_mut().insert(id.clone());
    let trace = TraceContext::from_headers(req.headers());
    req.extensions_mut().insert(trace.clone());
    let method = req.method().clone();
    // Only the docs tree gets the docs CSP; a bare prefix match would also
    // relax it for unrelated paths such as `/docsx`.
    let path = req.uri().path();
    let is_docs = path == "/docs" || path.starts_with("/docs/");
    // Every line logged while serving the request, down to the storage
    // layer, inherits this span and so its request id.
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %method,
        trace_id = trace.trace_id(),
        traceparent = trace.traceparent.as_deref(),
    );

    let mut res = inner(req).instrument(span.clone()).await;

    if res.status().is_client_error() || res.status().is_server_error() {
        res = render_error(res, &id);
    }
    let headers = res.headers_mut();
    headers.insert(&X_REQUEST_ID, id_header);
    trace.echo(headers);
    security_headers::apply(headers, is_docs);

    // Borrowed from the response, not copied: this runs for every request.
    let ext = res.extensions();
    let route = ext.get::<MatchedPath>().map(MatchedPath::as_str);
    let client_ip = ext.get::<ClientIp>().map(|c| tracing::field::display(c.0));
    let caller = ext.get::<CallerIds>();
    // Exact for every body this API produces (JSON, text); streamed
    // bodies of unknown length are logged without it.
    let response_bytes = res.body().size_hint().exact();
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = route.unwrap_or("<unmatched>"),
            status = res.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            client_ip,
            user_id = caller.map(|c| c.user_id.as_str()),
            tenant_id = caller.map(|c| c.tenant_id.as_str()),
            response_bytes,
            trace_id = trace.trace_id(),
            "request.completed"
        );
    });
    res
}

/// Rewrites an error response into the JSON error model, keeping its
/// status and headers (e.g. `Allow` on 405) but replacing its body.
fn render_error(res: Response, id: &RequestId) -> Response {
    let (mut parts, _body) = res.into_parts();
    let info = parts
        .extensions
        .remove::<ErrorInfo>()
        .unwrap_or_else(|| ApiError::from_status(parts.status).info);
    let body = ErrorBody {
        code: info.code.to_owned(),
        message: info.message,
        request_id: id.as_str().to_owned(),
        details: info.details,
        mfa_token: info.mfa_token,
    };
    let status = parts.status;
    let mut rendered = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    if status == StatusCode::UNAUTHORIZED
        && !rendered.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        rendered
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    *rendered.extensions_mut() = parts.extensions;
    rendered
}
