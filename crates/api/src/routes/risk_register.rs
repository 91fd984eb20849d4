//! Exposures, assessments, the risk register (list, heat map, CSV export)
//! and treatments with their approval.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use isms_domain::UserId;
use isms_domain::risk::{
    AssetId, RegisterEntry, RiskFilter, RiskId, RiskLevel, ThreatId, TreatmentAction,
    TreatmentDraft, TreatmentStatus, VulnerabilityId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::routes::risk::{Draft, ItemPage, page};
use crate::routes::users::encode_cursor;
use crate::state::AppState;

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct ExposureRequest {
    #[garde(skip)]
    #[schema(value_type = String, format = Uuid)]
    pub threat_id: ThreatId,
    /// Omitted: the asset is exposed to the threat without a known
    /// vulnerability.
    #[garde(skip)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub vulnerability_id: Option<VulnerabilityId>,
}

/// Link an asset to a threat through a vulnerability; the new risk is
/// scored at once and returned.
#[utoipa::path(post, path = "/api/v1/assets/{id}/exposures", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id")),
    request_body = ExposureRequest,
    responses((status = 201, description = "Linked; the register entry", body = Object),
        (status = 404, description = "No such asset in this tenant", body = ErrorBody),
        (status = 409, description = "`conflict`: already linked", body = ErrorBody)))]
pub async fn add_exposure(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<AssetId>,
    Json(req): Json<ExposureRequest>,
) -> ApiResult<impl IntoResponse> {
    let risk = state
        .risk
        .add_exposure(&who, id, req.threat_id, req.vulnerability_id, &meta)
        .await?;
    let entry = state.risk.get_risk(&who, risk.id).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/risks/{}", risk.id))],
        Json(RiskView::from(entry)),
    ))
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExposureParams {
    #[garde(skip)]
    #[param(value_type = String, format = Uuid)]
    pub threat_id: ThreatId,
    /// Omitted: the link without a vulnerability.
    #[garde(skip)]
    #[param(value_type = Option<String>, format = Uuid)]
    pub vulnerability_id: Option<VulnerabilityId>,
}

/// Unlink an exposure, named by query parameters `threat_id` and
/// `vulnerability_id` (a DELETE carries no body).
#[utoipa::path(delete, path = "/api/v1/assets/{id}/exposures", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id"), ExposureParams),
    responses((status = 204, description = "Unlinked"),
        (status = 404, description = "No such asset or link in this tenant", body = ErrorBody)))]
pub async fn remove_exposure(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<AssetId>,
    Query(p): Query<ExposureParams>,
) -> ApiResult<StatusCode> {
    state
        .risk
        .remove_exposure(&who, id, p.threat_id, p.vulnerability_id, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Assess an asset now: the engine's immutable result (`risk_score`,
/// `risk_level`, `required_mitigations`, `next_assessment_due`,
/// `contributions`, `compliance_status`, `assessed_at`, `assessor`).
#[utoipa::path(post, path = "/api/v1/assets/{id}/assessments", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id")),
    responses((status = 201, description = "The stored result", body = Object),
        (status = 404, description = "No such asset in this tenant", body = ErrorBody)))]
pub async fn assess_asset(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<AssetId>,
) -> ApiResult<impl IntoResponse> {
    let result = state.risk.assess_asset(&who, id, &meta).await?;
    Ok((StatusCode::CREATED, Json(result)))
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
}

/// An asset's assessment history, newest first.
#[utoipa::path(get, path = "/api/v1/assets/{id}/assessments", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Asset id"), PageParams),
    responses((status = 200, description = "One page of results", body = ItemPage<Object>),
        (status = 404, description = "No such asset in this tenant", body = ErrorBody)))]
pub async fn list_assessments(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<AssetId>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<ItemPage<isms_domain::risk::AssessmentResult>>> {
    let out = state
        .risk
        .list_assessments(&who, id, page(p.limit, p.cursor)?)
        .await?;
    Ok(Json(ItemPage {
        next_cursor: encode_cursor(out.next_after),
        items: out.items,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RunView {
    pub assessed: u64,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

/// Assess every asset that is due (never assessed, or its next assessment
/// is at or before now). The daily job does the same for every tenant.
#[utoipa::path(post, path = "/api/v1/assessments/run", tag = "risk", security(("bearer" = [])),
    responses((status = 200, description = "How many assets were assessed, by level", body = RunView)))]
pub async fn run_assessments(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
) -> ApiResult<Json<RunView>> {
    let s = state.risk.run_due(&who, &meta).await?;
    Ok(Json(RunView {
        assessed: s.assessed,
        critical: s.critical,
        high: s.high,
        medium: s.medium,
        low: s.low,
    }))
}

/// One line of the register.
#[derive(Serialize)]
pub struct RiskView {
    pub id: RiskId,
    pub asset_id: AssetId,
    pub asset_name: String,
    pub threat_id: ThreatId,
    pub threat_name: String,
    pub vulnerability_id: Option<VulnerabilityId>,
    pub vulnerability_name: Option<String>,
    pub inherent_impact: u8,
    pub inherent_likelihood: u8,
    pub inherent_score: u16,
    pub inherent_level: RiskLevel,
    /// Set once a treatment is done (an approved acceptance at once).
    pub residual_score: Option<u16>,
    pub residual_level: Option<RiskLevel>,
    pub treatment_option: Option<String>,
    pub treatment_status: Option<String>,
    /// The treatment's owner, else the asset's.
    pub owner: Option<UserId>,
    pub due_date: Option<chrono::NaiveDate>,
    pub assessed_at: chrono::DateTime<chrono::Utc>,
    pub treatment: Option<isms_domain::risk::Treatment>,
}

impl From<RegisterEntry> for RiskView {
    fn from(e: RegisterEntry) -> Self {
        let r = e.risk;
        Self {
            id: r.id,
            asset_id: r.exposure.asset_id,
            asset_name: e.asset_name,
            threat_id: r.exposure.threat_id,
            threat_name: e.threat_name,
            vulnerability_id: r.exposure.vulnerability_id,
            vulnerability_name: e.vulnerability_name,
            inherent_impact: r.inherent.impact,
            inherent_likelihood: r.inherent.likelihood,
            inherent_score: r.inherent.score,
            inherent_level: r.inherent.level,
            residual_score: r.residual.map(|s| s.score),
            residual_level: r.residual.map(|s| s.level),
            treatment_option: e.treatment.as_ref().map(|t| t.option.as_str().to_owned()),
            treatment_status: e.treatment.as_ref().map(|t| t.status.as_str().to_owned()),
            owner: e.treatment.as_ref().map(|t| t.owner).or(e.asset_owner),
            due_date: e.treatment.as_ref().and_then(|t| t.due_date),
            assessed_at: r.assessed_at,
            treatment: e.treatment,
        }
    }
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RiskListParams {
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
    /// Inherent level.
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub level: Option<RiskLevel>,
    /// Treatment status (proposed, approved, in_progress, done).
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub status: Option<TreatmentStatus>,
    /// Risk owner (the treatment's owner, else the asset's).
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub owner: Option<UserId>,
    #[garde(skip)]
    #[param(value_type = Option<String>)]
    pub asset: Option<AssetId>,
    /// Export only: `csv`.
    #[garde(inner(length(max = 8)))]
    pub format: Option<String>,
}

impl RiskListParams {
    fn filter(&self) -> RiskFilter {
        RiskFilter {
            level: self.level,
            status: self.status,
            owner: self.owner,
            asset: self.asset,
        }
    }
}

/// The risk register: one line per asset × threat × vulnerability, with
/// inherent and residual score, treatment, owner and due date.
#[utoipa::path(get, path = "/api/v1/risks", tag = "risk", security(("bearer" = [])), params(RiskListParams),
    responses((status = 200, description = "One page of the register", body = ItemPage<Object>)))]
pub async fn list_risks(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<RiskListParams>,
) -> ApiResult<Json<ItemPage<RiskView>>> {
    let filter = p.filter();
    let out = state
        .risk
        .list_risks(&who, &filter, page(p.limit, p.cursor)?)
        .await?;
    Ok(Json(ItemPage {
        next_cursor: encode_cursor(out.next_after),
        items: out.items.into_iter().map(RiskView::from).collect(),
    }))
}

/// Risk counts per impact × likelihood cell, inherent and residual
/// (`cells[impact-1][likelihood-1]`; untreated risks count at their
/// inherent cell in both).
#[utoipa::path(get, path = "/api/v1/risks/heatmap", tag = "risk", security(("bearer" = [])), params(RiskListParams),
    responses((status = 200, description = "`{risks, inherent: {cells, out_of_range}, residual: {...}}`", body = Object)))]
pub async fn risk_heatmap(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<RiskListParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let h = state.risk.heatmap(&who, &p.filter()).await?;
    Ok(Json(serde_json::json!({
        "risks": h.risks,
        "inherent": h.maps.inherent,
        "residual": h.maps.residual,
    })))
}

/// The register as CSV (analyst+; cells starting with `=`, `+`, `-`, `@`
/// are escaped against formula injection). `format=csv` is required.
#[utoipa::path(get, path = "/api/v1/risks/export", tag = "risk", security(("bearer" = [])), params(RiskListParams),
    responses((status = 200, description = "The register", content_type = "text/csv", body = String)))]
pub async fn export_risks(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Query(p): Query<RiskListParams>,
) -> ApiResult<impl IntoResponse> {
    if p.format.as_deref() != Some("csv") {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "format must be csv.",
        ));
    }
    let csv = state.risk.export_csv(&who, &p.filter(), &meta).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"risk-register.csv\"",
            ),
        ],
        csv,
    ))
}

/// A register entry.
#[utoipa::path(get, path = "/api/v1/risks/{id}", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Risk id")),
    responses((status = 200, description = "The risk", body = Object),
        (status = 404, description = "No such risk in this tenant", body = ErrorBody)))]
pub async fn get_risk(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<RiskId>,
) -> ApiResult<Json<RiskView>> {
    Ok(Json(state.risk.get_risk(&who, id).await?.into()))
}

/// Propose or revise the risk's treatment (analyst+); a revision needs a
/// new approval.
#[utoipa::path(put, path = "/api/v1/risks/{id}/treatment", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Risk id")),
    request_body(content = Object, description = "`{option: mitigate|accept|transfer|avoid, owner, description?, planned_controls?: [\"8.8\"], due_date?, residual?: {impact, likelihood}}`"),
    responses((status = 200, description = "The treatment", body = Object),
        (status = 404, description = "No such risk in this tenant", body = ErrorBody),
        (status = 409, description = "`conflict`: a done treatment cannot change", body = ErrorBody)))]
pub async fn put_treatment(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<RiskId>,
    Json(Draft(draft)): Json<Draft<TreatmentDraft>>,
) -> ApiResult<Json<isms_domain::risk::Treatment>> {
    Ok(Json(
        state.risk.put_treatment(&who, id, draft, &meta).await?,
    ))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    #[garde(inner(length(chars, max = 2000)))]
    pub comment: Option<String>,
}

/// Approve the risk's treatment: LOW analyst+, MEDIUM and HIGH manager+
/// (HIGH not by its proposer), CRITICAL admin with a recent MFA step-up
/// (403 `mfa_step_up_required` without). Recorded with approver, time and
/// comment; an approved acceptance is done at once.
#[utoipa::path(post, path = "/api/v1/risks/{id}/treatment/approve", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Risk id")),
    request_body = ApproveRequest,
    responses((status = 200, description = "The approved treatment", body = Object),
        (status = 404, description = "No such risk in this tenant", body = ErrorBody),
        (status = 409, description = "`conflict`: not awaiting approval", body = ErrorBody)))]
pub async fn approve_treatment(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<RiskId>,
    Json(req): Json<ApproveRequest>,
) -> ApiResult<Json<isms_domain::risk::Treatment>> {
    Ok(Json(
        state
            .risk
            .approve_treatment(&who, id, req.comment.as_deref(), &meta)
            .await?,
    ))
}

/// Start an approved treatment (status `in_progress`; analyst+).
#[utoipa::path(post, path = "/api/v1/risks/{id}/treatment/start", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Risk id")),
    responses((status = 200, description = "The treatment", body = Object),
        (status = 404, description = "No such risk in this tenant", body = ErrorBody),
        (status = 409, description = "`conflict`: not approved", body = ErrorBody)))]
pub async fn start_treatment(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<RiskId>,
) -> ApiResult<Json<isms_domain::risk::Treatment>> {
    Ok(Json(
        state
            .risk
            .advance_treatment(&who, id, TreatmentAction::Start, &meta)
            .await?,
    ))
}

/// Complete an in-progress treatment (status `done`): the risk takes the
/// treatment's residual score (analyst+).
#[utoipa::path(post, path = "/api/v1/risks/{id}/treatment/complete", tag = "risk", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Risk id")),
    responses((status = 200, description = "The treatment", body = Object),
        (status = 404, description = "No such risk in this tenant", body = ErrorBody),
        (status = 409, description = "`conflict`: not in progress", body = ErrorBody)))]
pub async fn complete_treatment(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<RiskId>,
) -> ApiResult<Json<isms_domain::risk::Treatment>> {
    Ok(Json(
        state
            .risk
            .advance_treatment(&who, id, TreatmentAction::Complete, &meta)
            .await?,
    ))
}
