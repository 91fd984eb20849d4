//! Assembles the API: the route table (every route is added here, so the
//! table, the OpenAPI document and the router cannot drift apart), the
//! fallback, and the middleware stack.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::access::Access;
use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::routes::{
    alerts, audit, auth, compliance, compliance_reports, compliance_soa, crypto, docs, gdpr,
    gdpr_requests, gdpr_retention, health, mfa, policy, users,
};
use crate::state::AppState;
use crate::{context, cors};

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Origins allowed to call the API from a browser; empty disables CORS.
    pub cors_origins: Vec<String>,
    /// Whole-request deadline (504 `timeout` beyond).
    pub request_timeout: Duration,
    /// Proxies whose `Forwarded`/`X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
        }
    }
}

/// One route of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub method: Method,
    pub path: String,
    /// Public, or the permission the route requires.
    pub access: Access,
    /// Whether the route is in the OpenAPI document (only the HTML docs
    /// themselves are not).
    pub documented: bool,
}

/// The assembled API.
pub struct Api {
    pub router: Router,
    pub spec: utoipa::openapi::OpenApi,
    pub routes: Vec<RouteEntry>,
}

struct RouteTable {
    router: OpenApiRouter<AppState>,
    entries: Vec<RouteEntry>,
    state: AppState,
}

impl RouteTable {
    fn new(state: AppState) -> Self {
        Self {
            router: OpenApiRouter::with_openapi(ApiDoc::openapi()),
            entries: Vec::new(),
            state,
        }
    }

    /// Adds documented routes: the path and method come from the handler's
    /// `#[utoipa::path]`, the single source for both router and spec, and
    /// `access` is enforced by a layer on exactly these routes.
    fn add(mut self, access: Access, routes: UtoipaMethodRouter<AppState>) -> Self {
        for (path, item) in &routes.1.paths {
            let ops = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, present) in ops {
                if present {
                    self.entries.push(RouteEntry {
                        method,
                        path: path.clone(),
                        access,
                        documented: true,
                    });
                }
            }
        }
        let (schemas, paths, mut method_router) = routes;
        if !access.is_public() {
            method_router = method_router.route_layer(middleware::from_fn_with_state(
                (self.state.clone(), access),
                crate::access::enforce,
            ));
        }
        if let (Some(tier), true) = (access.limit, self.state.limiter.enabled) {
            method_router = method_router.route_layer(middleware::from_fn_with_state(
                (self.state.limiter.clone(), tier),
                crate::ratelimit::layer,
            ));
        }
        self.router = self.router.routes((schemas, paths, method_router));
        self
    }
}

pub fn build(state: AppState, cfg: &HttpConfig) -> Api {
    use isms_domain::rbac::Permission as P;
    let public = Access::public();
    let table = RouteTable::new(state.clone())
        .add(public.unlimited(), routes!(health::live))
        .add(public.unlimited(), routes!(health::ready))
        .add(public.unlimited(), routes!(crate::metrics::scrape))
        .add(
            Access::require(P::HealthReadDetailed),
            routes!(health::detailed),
        )
        .add(public, routes!(docs::openapi_json))
        .add(public, routes!(auth::jwks))
        .add(public.auth_tier(), routes!(auth::login))
        .add(public.auth_tier(), routes!(auth::token))
        .add(public.auth_tier(), routes!(auth::refresh))
        .add(public.auth_tier(), routes!(mfa::verify))
        .add(
            Access::require(P::UsersReadSelf)
                .even_before_password_change()
                .even_before_mfa_enrollment(),
            routes!(auth::logout),
        )
        .add(
            Access::require(P::UsersReadSelf)
                .even_before_password_change()
                .even_before_mfa_enrollment(),
            routes!(mfa::enroll),
        )
        .add(
            Access::require(P::UsersReadSelf)
                .even_before_password_change()
                .even_before_mfa_enrollment(),
            routes!(mfa::confirm),
        )
        .add(
            Access::require(P::UsersReadSelf)
                .even_before_password_change()
                .even_before_mfa_enrollment(),
            routes!(mfa::status),
        )
        .add(Access::require(P::UsersReadSelf), routes!(mfa::disable))
        .add(Access::require(P::UsersReadSelf), routes!(mfa::step_up))
        .add(Access::require(P::TenantAdmin), routes!(policy::get))
        .add(Access::require(P::TenantAdmin), routes!(policy::put))
        .add(Access::require(P::UsersWrite), routes!(users::unlock))
        .add(Access::require(P::UsersReadSelf), routes!(auth::sessions))
        .add(
            Access::require(P::UsersReadSelf),
            routes!(auth::revoke_session),
        )
        .add(Access::require(P::UsersWrite), routes!(users::create))
        .add(Access::require(P::UsersRead), routes!(users::list))
        .add(
            Access::require(P::UsersReadSelf).even_before_password_change(),
            routes!(users::me),
        )
        .add(
            Access::require(P::UsersReadSelf).even_before_password_change(),
            routes!(users::change_password),
        )
        .add(Access::require(P::UsersReadSelf), routes!(users::get))
        .add(Access::require(P::UsersReadSelf), routes!(users::update))
        .add(Access::require(P::UsersWrite), routes!(users::delete))
        .add(Access::require(P::AuditRead), routes!(audit::events))
        .add(Access::require(P::AuditRead), routes!(audit::event))
        .add(Access::require(P::AuditRead), routes!(audit::checkpoint))
        .add(Access::require(P::AuditRead), routes!(audit::log_key))
        .add(Access::require(P::AuditRead), routes!(audit::inclusion))
        .add(Access::require(P::AuditRead), routes!(audit::consistency))
        .add(Access::require(P::AuditRead), routes!(audit::verify))
        .add(Access::require(P::TenantAdmin), routes!(audit::get_policy))
        .add(Access::require(P::TenantAdmin), routes!(audit::put_policy))
        .add(Access::require(P::AlertsRead), routes!(alerts::list))
        .add(Access::require(P::AlertsRead), routes!(alerts::get))
        .add(Access::require(P::AlertsAcknowledge), routes!(alerts::ack))
        .add(
            Access::require(P::DataReadInternal),
            routes!(crypto::encrypt),
        )
        .add(
            Access::require(P::DataReadInternal),
            routes!(crypto::decrypt),
        )
        .add(Access::require(P::KeysRead), routes!(crypto::list_keys))
        .add(Access::require(P::KeysRotate), routes!(crypto::rotate))
        .add(Access::require(P::KeysRotate), routes!(crypto::rewrap))
        .add(Access::require(P::KeysRotate), routes!(crypto::retire))
        .add(
            Access::require(P::ComplianceRead),
            routes!(compliance::checks),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(compliance::status),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(compliance::history),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(compliance::run),
        )
        .add(
            Access::require(P::TenantAdmin),
            routes!(compliance::get_config),
        )
        .add(
            Access::require(P::TenantAdmin),
            routes!(compliance::put_config),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(compliance::review_user),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(compliance::review_bulk),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(compliance_soa::list),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(compliance_soa::patch),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(compliance_reports::create),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(compliance_reports::get),
        )
        .add(Access::require(P::ComplianceWrite), routes!(gdpr::record))
        .add(Access::require(P::ComplianceRead), routes!(gdpr::list))
        .add(Access::require(P::ComplianceWrite), routes!(gdpr::withdraw))
        .add(
            Access::require(P::ComplianceWrite),
            routes!(gdpr_requests::create),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(gdpr_requests::list),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(gdpr_requests::get),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(gdpr_requests::update),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(gdpr_requests::export),
        )
        .add(
            Access::require(P::ComplianceRead),
            routes!(gdpr_retention::list),
        )
        .add(
            Access::require(P::TenantAdmin),
            routes!(gdpr_retention::put),
        )
        .add(
            Access::require(P::TenantAdmin),
            routes!(gdpr_retention::delete),
        )
        .add(
            Access::require(P::ComplianceWrite),
            routes!(gdpr_retention::run),
        );
    let table = risk_routes(table);
    let mut entries = table.entries;
    let (api_router, mut spec) = table.router.split_for_parts();
    crate::openapi::add_standard_error_responses(&mut spec);
    let spec_json = docs::SpecJson(Arc::new(
        serde_json::to_string(&spec).unwrap_or_else(|_| String::from("{}")),
    ));
    entries.push(RouteEntry {
        method: Method::GET,
        path: "/docs".into(),
        access: Access::public(),
        documented: false,
    });

    let observer = crate::metrics::Observer {
        metrics: state.metrics.clone(),
        continuity: Some(state.continuity.clone()),
    };
    let router = api_router
        .route_layer(middleware::from_fn(tag_route))
        .with_state(state)
        .merge(docs::swagger_ui())
        .layer(Extension(spec_json))
        .fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) });
    Api {
        router: stack(router, cfg, Some(observer)),
        spec,
        routes: entries,
    }
}

/// The middleware stack, outermost first: request context (id, span,
/// headers, error rendering), CORS, panic catcher, timeout, body limits.
/// Public so tests can put a test router behind exactly the same stack.
pub fn with_middleware(router: Router, cfg: &HttpConfig) -> Router {
    stack(router, cfg, None)
}

/// The stack, with request metrics just inside the request context so
/// that timeouts, panics and body-limit refusals are counted too.
///
/// Each `Router::layer` call wraps every route in one more boxed service,
/// and the router clones a route's whole chain of boxes for each request,
/// so the layers are grouped into as few calls as possible.
fn stack(router: Router, cfg: &HttpConfig, observer: Option<crate::metrics::Observer>) -> Router {
    let guards = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        // Innermost: it needs a response body with a default (the
        // route's), and it still covers reading the body in extractors.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            cfg.request_timeout,
        ));
    let router = cors::apply(router.layer(guards), &cfg.cors_origins);
    let trusted = crate::client_ip::TrustedProxies(Arc::new(cfg.trusted_proxies.clone()));
    // Request context, then metrics, then the client address: one layer
    // (see `context::outer`).
    router.layer(middleware::from_fn_with_state(
        context::Outer { observer, trusted },
        context::outer,
    ))
}

fn on_panic(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The payload may hold request data; it is not logged.
    tracing::error!("request.panicked");
    ApiError::internal().into_response()
}

/// Copies the matched route template into the response so the outer
/// middleware can log the template rather than the raw path.
async fn tag_route(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(m) = matched {
        res.extensions_mut().insert(m);
    }
    res
}

/// The risk-management routes: viewers read, analysts write and assess;
/// approval is open to readers because the level of the risk decides who
/// may approve (checked by the service).
fn risk_routes(table: RouteTable) -> RouteTable {
    use crate::routes::{risk as r, risk_register as reg};
    use isms_domain::rbac::Permission as P;
    let read = || Access::require(P::AssetsRead);
    let write = || Access::require(P::AssetsWrite);
    table
        .add(read(), routes!(crate::routes::risk_matrix::get))
        .add(
            Access::require(P::TenantAdmin),
            routes!(crate::routes::risk_matrix::put),
        )
        .add(write(), routes!(r::create_asset))
        .add(read(), routes!(r::list_assets))
        .add(read(), routes!(r::get_asset))
        .add(write(), routes!(r::replace_asset))
        .add(write(), routes!(r::delete_asset))
        .add(write(), routes!(r::create_threat))
        .add(read(), routes!(r::list_threats))
        .add(read(), routes!(r::get_threat))
        .add(write(), routes!(r::replace_threat))
        .add(write(), routes!(r::delete_threat))
        .add(write(), routes!(r::create_vulnerability))
        .add(read(), routes!(r::list_vulnerabilities))
        .add(read(), routes!(r::get_vulnerability))
        .add(write(), routes!(r::replace_vulnerability))
        .add(write(), routes!(r::delete_vulnerability))
        .add(write(), routes!(reg::add_exposure))
        .add(write(), routes!(reg::remove_exposure))
        .add(write(), routes!(reg::assess_asset))
        .add(read(), routes!(reg::list_assessments))
        .add(write(), routes!(reg::run_assessments))
        .add(read(), routes!(reg::list_risks))
        .add(read(), routes!(reg::risk_heatmap))
        .add(write(), routes!(reg::export_risks))
        .add(read(), routes!(reg::get_risk))
        .add(write(), routes!(reg::put_treatment))
        .add(read(), routes!(reg::approve_treatment))
        .add(write(), routes!(reg::start_treatment))
        .add(write(), routes!(reg::complete_treatment))
}
