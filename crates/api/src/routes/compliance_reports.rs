//! Signed compliance reports: generated and stored on request, read back
//! as the signed JSON, as CSV, or as a PDF for auditors to file.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use isms_domain::compliance::{ReportId, report_csv};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// Generate, sign and store a report of the tenant's current compliance
/// (manager and above). The body is the signed report: `report`,
/// `signature` (Ed25519 by the audit log key, base64), `key_id` and the
/// audit `checkpoint` it was built against.
#[utoipa::path(
    post,
    path = "/api/v1/compliance/reports",
    operation_id = "create_compliance_report",
    tag = "compliance",
    security(("bearer" = [])),
    responses((status = 201, description = "The signed report", body = Object))
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
) -> ApiResult<Response> {
    let signed = state.compliance.generate_report(&who, &meta).await?;
    let location = format!("/api/v1/compliance/reports/{}", signed.report.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(signed),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `json` (default), `csv` or `pdf`.
    #[garde(inner(length(max = 8)))]
    pub format: Option<String>,
}

/// A stored report as JSON (signed), CSV or PDF.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/reports/{id}",
    operation_id = "get_compliance_report",
    tag = "compliance",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Report id"), ReportParams),
    responses(
        (status = 200, description = "The report (application/json, text/csv or application/pdf)", body = Object),
        (status = 404, description = "No such report in this tenant", body = ErrorBody),
        (status = 422, description = "Unknown format", body = ErrorBody)
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<uuid::Uuid>,
    Query(params): Query<ReportParams>,
) -> ApiResult<Response> {
    let format = params.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "pdf") {
        return Err(crate::extract::field_errors(vec![serde_json::json!({
            "field": "format", "code": "invalid", "message": "json, csv or pdf"
        })]));
    }
    let signed = state
        .compliance
        .report(&who, ReportId::from_uuid(id))
        .await?;
    Ok(match format {
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report_csv(&signed.report),
        )
            .into_response(),
        "pdf" => {
            let name = state.compliance.tenant_name(&who).await?;
            let pdf = crate::pdf::report_pdf(&signed, &name).map_err(|e| {
                tracing::error!(error = %e, "compliance.pdf_failed");
                ApiError::internal()
            })?;
            ([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response()
        }
        _ => Json(signed).into_response(),
    })
}
