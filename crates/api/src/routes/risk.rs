//! The asset inventory, threat catalogue and vulnerabilities (CRUD with
//! filters, sorting and cursor pages), exposures and assessments. Bodies
//! are the domain's drafts, which validate every field themselves; lists
//! are `{"items": [...], "next_cursor": ...}` like `GET /users`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use isms_domain::UserId;
use isms_domain::crypto::Classification;
use isms_domain::page::PageRequest;
use isms_domain::risk::{
    AssetDraft, AssetFilter, AssetId, AssetStatus, AssetType, RiskLevel, Severity, Sort, SortField,
    ThreatCategory, ThreatDraft, ThreatFilter, ThreatId, VulnerabilityDraft, VulnerabilityFilter,
    VulnerabilityId, VulnerabilityStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::routes::users::{ListParams, encode_cursor, page_request};
use crate::state::AppState;

/// A request body the domain validates (its constructors name the field
/// that is wrong); unknown fields are still rejected by the extractor.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Draft<T>(pub T);

impl<T> garde::Validate for Draft<T> {
    type Context = ();
    fn validate_into(
        &self,
        _: &Self::Context,
        _: &mut dyn FnMut() -> garde::Path,
        _: &mut garde::Report,
    ) {
    }
}

/// One page of any list.
#[derive(Serialize, ToSchema)]
pub struct ItemPage<T: Serialize> {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub(crate) fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    page_request(&ListParams { limit, cursor })
}

pub(crate) fn sort(raw: Option<&str>) -> Result<Sort<SortField>, ApiError> {
    match raw {
        None | Some("") => Ok(Sort::default()),
        Some(s) => SortField::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "sort must be one of id, name, created_at, updated_at (prefix - for descending).",
            )
        }),
    }
}

fn created<T: Serialize>(location: String, body: T) -> impl IntoResponse {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssetListParams {
    /// 1..=100, default 20.
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
    /// `name`, `created_at`, `updated_at` or `id`; `-` prefix descends.
    #[garde(inner(length(max = 32)))]
    pub sort: Option<String>,
    #[garde(skip)]
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<String>)]
    pub asset_type: Option<AssetType>,
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub classification: Option<Classification>,
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub owner: Option<UserId>,
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub status: Option<AssetStatus>,
    /// Level of the asset's latest assessment.
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub level: Option<RiskLevel>,
    #[garde(inner(length(chars, max = 64)))]
    pub tag: Option<String>,
    /// Case-insensitive substring of the name.
    #[garde(inner(length(chars, max = 200)))]
    pub q: Option<String>,
}

/// An asset with the schedule its latest assessment set.
#[derive(Serialize)]
pub struct AssetDetail {
    #[serde(flatten)]
    pub asset: isms_domain::risk::Asset,
    pub risk_score: Option<u16>,
    pub risk_level: Option<RiskLevel>,
    pub last_assessed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub next_assessment_due: Option<chrono::DateTime<chrono::Utc>>,
}

/// Add an asset to the inventory (analyst+).
#[utoipa::path(post, path = "/api/v1/assets", tag = "risk", security(("bearer" = [])),
    request_body(content = Object, description = "`{name, asset_type, confidentiality, integrity, availability, business_value, description?, owner?, custodian?, classification?, location?, tags?, status?, next_review_at?}`"),
    responses((status = 201, description = "Created", body = Object, headers(("location" = String, description = "The asset's URL")))))]
pub async fn create_asset(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(Draft(draft)): Json<Draft<AssetDraft>>,
) -> ApiResult<impl IntoResponse> {
    let a = state.risk.create_asset(&who, draft, &meta).await?;
    Ok(created(format!("/api/v1/assets/{}", a.id), a))
}

/// List assets: filter by type, classification, owner, status, level, tag, `q`.
#[utoipa::path(get, path = "/api/v1/assets", tag = "risk", security(("bearer" = [])), params(AssetListParams),
    responses((status = 200, description = "One page of assets", body = ItemPage<Object>)))]
pub async fn list_assets(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<AssetListParams>,
) -> ApiResult<Json<ItemPage<isms_domain::risk::Asset>>> {
    let filter = AssetFilter {
        asset_type: p.asset_type,
        classification: p.classification,
        owner: p.owner,
        status: p.status,
        level: p.level,
        tag: p.tag.map(|t| t.trim().to_lowercase()),
        q: p.q,
    };
    let req = page(p.limit, p.cursor)?;
    let out = state
        .risk
        .list_assets(&who, &filter, sort(p.sort.as_deref())?, req)
        .await?;
    Ok(Json(ItemPage {
        next_cursor: encode_cursor(out.next_after),
        items: out.items,
    }))
}

/// An asset with its assessment schedule.
#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id")),
    responses((status = 200, description = "The asset", body = Object),
        (status = 404, description = "No such asset in this tenant", body = ErrorBody)))]
pub async fn get_asset(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<AssetDetail>> {
    let (asset, s) = state.risk.get_asset(&who, id).await?;
    Ok(Json(AssetDetail {
        asset,
        risk_score: s.risk_score,
        risk_level: s.risk_level,
        last_assessed_at: s.last_assessed_at,
        next_assessment_due: s.next_assessment_due,
    }))
}

/// Replace an asset's editable fields (the body is a full draft).
#[utoipa::path(put, path = "/api/v1/assets/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id")),
    request_body(content = Object, description = "The same draft as on create"),
    responses((status = 200, description = "Replaced", body = Object),
        (status = 404, description = "No such asset in this tenant", body = ErrorBody)))]
pub async fn replace_asset(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<AssetId>,
    Json(Draft(draft)): Json<Draft<AssetDraft>>,
) -> ApiResult<Json<isms_domain::risk::Asset>> {
    Ok(Json(
        state.risk.replace_asset(&who, id, draft, &meta).await?,
    ))
}

/// Delete an asset (soft delete; its exposures leave the register).
#[utoipa::path(delete, path = "/api/v1/assets/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such asset in this tenant", body = ErrorBody)))]
pub async fn delete_asset(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<AssetId>,
) -> ApiResult<StatusCode> {
    state.risk.delete_asset(&who, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThreatListParams {
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
    #[garde(inner(length(max = 32)))]
    pub sort: Option<String>,
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub category: Option<ThreatCategory>,
    #[garde(inner(length(chars, max = 200)))]
    pub q: Option<String>,
}

/// Add a threat to the tenant's catalogue (analyst+).
#[utoipa::path(post, path = "/api/v1/threats", tag = "risk", security(("bearer" = [])),
    request_body(content = Object, description = "`{name, category, targets: [\"confidentiality\"|\"integrity\"|\"availability\"], base_likelihood: rare|unlikely|possible|likely|almost_certain, source?, description?}`"),
    responses((status = 201, description = "Created", body = Object, headers(("location" = String, description = "The threat's URL")))))]
pub async fn create_threat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(Draft(draft)): Json<Draft<ThreatDraft>>,
) -> ApiResult<impl IntoResponse> {
    let t = state.risk.create_threat(&who, draft, &meta).await?;
    Ok(created(format!("/api/v1/threats/{}", t.id), t))
}

/// List threats (the default ISO/IEC 27005 catalogue is seeded on first use).
#[utoipa::path(get, path = "/api/v1/threats", tag = "risk", security(("bearer" = [])), params(ThreatListParams),
    responses((status = 200, description = "One page of threats", body = ItemPage<Object>)))]
pub async fn list_threats(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<ThreatListParams>,
) -> ApiResult<Json<ItemPage<isms_domain::risk::Threat>>> {
    let filter = ThreatFilter {
        category: p.category,
        q: p.q,
    };
    let req = page(p.limit, p.cursor)?;
    let out = state
        .risk
        .list_threats(&who, &filter, sort(p.sort.as_deref())?, req)
        .await?;
    Ok(Json(ItemPage {
        next_cursor: encode_cursor(out.next_after),
        items: out.items,
    }))
}

/// A threat.
#[utoipa::path(get, path = "/api/v1/threats/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Threat id")),
    responses((status = 200, description = "The threat", body = Object),
        (status = 404, description = "No such threat in this tenant", body = ErrorBody)))]
pub async fn get_threat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<ThreatId>,
) -> ApiResult<Json<isms_domain::risk::Threat>> {
    Ok(Json(state.risk.get_threat(&who, id).await?))
}

/// Replace a threat.
#[utoipa::path(put, path = "/api/v1/threats/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Threat id")),
    request_body(content = Object, description = "The same draft as on create"),
    responses((status = 200, description = "Replaced", body = Object),
        (status = 404, description = "No such threat in this tenant", body = ErrorBody)))]
pub async fn replace_threat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<ThreatId>,
    Json(Draft(draft)): Json<Draft<ThreatDraft>>,
) -> ApiResult<Json<isms_domain::risk::Threat>> {
    Ok(Json(
        state.risk.replace_threat(&who, id, draft, &meta).await?,
    ))
}

/// Delete a threat (soft delete; its exposures leave the register).
#[utoipa::path(delete, path = "/api/v1/threats/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Threat id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such threat in this tenant", body = ErrorBody)))]
pub async fn delete_threat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<ThreatId>,
) -> ApiResult<StatusCode> {
    state.risk.delete_threat(&who, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VulnerabilityListParams {
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
    #[garde(inner(length(max = 32)))]
    pub sort: Option<String>,
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub severity: Option<Severity>,
    /// open, mitigated or accepted.
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub status: Option<VulnerabilityStatus>,
    /// Only vulnerabilities affecting this asset.
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub asset: Option<AssetId>,
    #[garde(inner(length(chars, max = 200)))]
    pub q: Option<String>,
}

/// Record a vulnerability (analyst+).
#[utoipa::path(post, path = "/api/v1/vulnerabilities", tag = "risk", security(("bearer" = [])),
    request_body(content = Object, description = "`{name, severity, discovered_at, status?, remediated_at?, cve?, cwe?, affected_assets?, description?}`"),
    responses((status = 201, description = "Created", body = Object, headers(("location" = String, description = "The vulnerability's URL")))))]
pub async fn create_vulnerability(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(Draft(draft)): Json<Draft<VulnerabilityDraft>>,
) -> ApiResult<impl IntoResponse> {
    let v = state.risk.create_vulnerability(&who, draft, &meta).await?;
    Ok(created(format!("/api/v1/vulnerabilities/{}", v.id), v))
}

/// List vulnerabilities.
#[utoipa::path(get, path = "/api/v1/vulnerabilities", tag = "risk", security(("bearer" = [])), params(VulnerabilityListParams),
    responses((status = 200, description = "One page of vulnerabilities", body = ItemPage<Object>)))]
pub async fn list_vulnerabilities(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<VulnerabilityListParams>,
) -> ApiResult<Json<ItemPage<isms_domain::risk::Vulnerability>>> {
    let filter = VulnerabilityFilter {
        severity: p.severity,
        status: p.status,
        asset: p.asset,
        q: p.q,
    };
    let req = page(p.limit, p.cursor)?;
    let out = state
        .risk
        .list_vulnerabilities(&who, &filter, sort(p.sort.as_deref())?, req)
        .await?;
    Ok(Json(ItemPage {
        next_cursor: encode_cursor(out.next_after),
        items: out.items,
    }))
}

/// A vulnerability.
#[utoipa::path(get, path = "/api/v1/vulnerabilities/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Vulnerability id")),
    responses((status = 200, description = "The vulnerability", body = Object),
        (status = 404, description = "No such vulnerability in this tenant", body = ErrorBody)))]
pub async fn get_vulnerability(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<VulnerabilityId>,
) -> ApiResult<Json<isms_domain::risk::Vulnerability>> {
    Ok(Json(state.risk.get_vulnerability(&who, id).await?))
}

/// Replace a vulnerability (e.g. mark it mitigated with `remediated_at`).
#[utoipa::path(put, path = "/api/v1/vulnerabilities/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Vulnerability id")),
    request_body(content = Object, description = "The same draft as on create"),
    responses((status = 200, description = "Replaced", body = Object),
        (status = 404, description = "No such vulnerability in this tenant", body = ErrorBody)))]
pub async fn replace_vulnerability(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<VulnerabilityId>,
    Json(Draft(draft)): Json<Draft<VulnerabilityDraft>>,
) -> ApiResult<Json<isms_domain::risk::Vulnerability>> {
    Ok(Json(
        state
            .risk
            .replace_vulnerability(&who, id, draft, &meta)
            .await?,
    ))
}

/// Delete a vulnerability (soft delete; its exposures leave the register).
#[utoipa::path(delete, path = "/api/v1/vulnerabilities/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Vulnerability id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such vulnerability in this tenant", body = ErrorBody)))]
pub async fn delete_vulnerability(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<VulnerabilityId>,
) -> ApiResult<StatusCode> {
    state.risk.delete_vulnerability(&who, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
