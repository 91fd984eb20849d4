//! Retention policies per category of personal data, and the retention
//! run that reports (and, enforcing, erases) what is past them.

use axum::extract::State;
use axum::http::StatusCode;
use isms_domain::compliance::{RetentionCategory, RetentionPolicy, RetentionRun};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct CategoryView {
    pub category: &'static str,
    /// What enforcing erases.
    pub erasure: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionView {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<RetentionPolicy>,
    /// Every category a policy can cover.
    pub categories: Vec<CategoryView>,
}

fn category(raw: &str) -> Result<RetentionCategory, ApiError> {
    RetentionCategory::parse(raw).map_err(|e| {
        ApiError::from(isms_app::AppError::validation(
            "category",
            "unknown_category",
            e.to_string(),
        ))
    })
}

/// The tenant's retention policies (manager, admin, auditor).
#[utoipa::path(
    get,
    path = "/api/v1/gdpr/retention",
    operation_id = "list_retention_policies",
    tag = "gdpr",
    security(("bearer" = [])),
    responses((status = 200, description = "Policies and the categories", body = RetentionView))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<axum::Json<RetentionView>> {
    let items = state.gdpr.retention_policies(&who).await?;
    Ok(axum::Json(RetentionView {
        items,
        categories: RetentionCategory::ALL
            .iter()
            .map(|c| CategoryView {
                category: c.as_str(),
                erasure: c.erasure(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// 1..=36500.
    #[garde(range(min = 1, max = 36_500))]
    pub days: u32,
    /// Whether the daily run erases (a step-up is needed to turn it on).
    #[serde(default)]
    #[garde(skip)]
    pub enforce: bool,
}

/// Set a category's policy (admin): `{"days":90,"enforce":false}`.
#[utoipa::path(
    put,
    path = "/api/v1/gdpr/retention/{category}",
    operation_id = "put_retention_policy",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("category" = String, Path, description = "`sessions`, `withdrawn_consents`, `deleted_accounts` or `closed_requests`")),
    request_body(content = Object, description = "`{\"days\":90,\"enforce\":true}`"),
    responses(
        (status = 200, description = "The policy", body = Object),
        (status = 403, description = "Not an admin, or a step-up is needed to enforce", body = ErrorBody),
        (status = 422, description = "Unknown category or days out of range", body = ErrorBody)
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(raw): Path<String>,
    Json(body): Json<PolicyBody>,
) -> ApiResult<axum::Json<RetentionPolicy>> {
    let policy = RetentionPolicy {
        category: category(&raw)?,
        days: body.days,
        enforce: body.enforce,
    };
    Ok(axum::Json(
        state.gdpr.put_retention_policy(&who, policy, &meta).await?,
    ))
}

/// Remove a category's policy (admin): its records are kept indefinitely.
#[utoipa::path(
    delete,
    path = "/api/v1/gdpr/retention/{category}",
    operation_id = "delete_retention_policy",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("category" = String, Path, description = "A retention category")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "The category has no policy", body = ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .gdpr
        .delete_retention_policy(&who, category(&raw)?, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunParams {
    /// Erase what is past retention under every policy (admin, step-up).
    #[garde(skip)]
    pub enforce: Option<bool>,
}

/// Run retention now (manager and above): per policy, the records past
/// retention, and with `enforce=true` (admin, step-up) erased.
#[utoipa::path(
    post,
    path = "/api/v1/gdpr/retention/run",
    operation_id = "run_retention",
    tag = "gdpr",
    security(("bearer" = [])),
    params(RunParams),
    responses(
        (status = 200, description = "What was found and erased", body = Object),
        (status = 403, description = "Enforcing needs an admin with a step-up", body = ErrorBody)
    )
)]
pub async fn run(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Query(params): Query<RunParams>,
) -> ApiResult<axum::Json<RetentionRun>> {
    Ok(axum::Json(
        state
            .gdpr
            .run_retention(&who, params.enforce.unwrap_or(false), &meta)
            .await?,
    ))
}
