//! The Statement of Applicability: the 93 Annex A controls with the
//! tenant's decisions and the live evidence for each, as JSON pages or one
//! CSV, and changes to one control's decision.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use isms_domain::compliance::{SoaEntry, SoaPatch};
use isms_domain::risk::csv_cell;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct EvidenceView {
    /// `check`, `feature` or `treatment`.
    pub kind: String,
    /// The check id, feature key or treatment id.
    #[serde(rename = "ref")]
    pub reference: String,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct SoaView {
    #[schema(example = "8.24")]
    pub control_id: String,
    pub title: String,
    /// `organizational`, `people`, `physical` or `technological`.
    pub theme: String,
    pub applicable: bool,
    pub justification: Option<String>,
    /// `not_started`, `partial` or `implemented`.
    pub status: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub owner: Option<uuid::Uuid>,
    pub evidence: Vec<EvidenceView>,
}

impl From<SoaEntry> for SoaView {
    fn from(e: SoaEntry) -> Self {
        Self {
            control_id: e.control_id,
            title: e.title,
            theme: e.theme.as_str().to_owned(),
            applicable: e.applicable,
            justification: e.justification,
            status: e.status.as_str().to_owned(),
            owner: e.owner.map(|o| o.as_uuid()),
            evidence: e
                .evidence
                .into_iter()
                .map(|v| EvidenceView {
                    kind: v.kind.as_str().to_owned(),
                    reference: v.reference,
                    description: v.description,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SoaParams {
    /// 1..=100, default 20 (100 holds the whole SoA).
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
    /// `json` (default), `csv` or `pdf` (all controls, no paging).
    #[garde(inner(length(max = 8)))]
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SoaPage {
    pub items: Vec<SoaView>,
    pub next_cursor: Option<String>,
}

const CSV_HEADER: &str =
    "control_id,title,theme,applicable,justification,status,owner,evidence\r\n";

fn soa_csv(entries: &[SoaEntry]) -> String {
    let mut out = String::from(CSV_HEADER);
    for e in entries {
        let evidence: Vec<String> = e
            .evidence
            .iter()
            .map(|v| format!("{}:{}", v.kind.as_str(), v.reference))
            .collect();
        let cells = [
            e.control_id.clone(),
            e.title.clone(),
            e.theme.as_str().to_owned(),
            e.applicable.to_string(),
            e.justification.clone().unwrap_or_default(),
            e.status.as_str().to_owned(),
            e.owner.map(|o| o.to_string()).unwrap_or_default(),
            evidence.join("; "),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn bad_cursor() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "The cursor is not valid.",
    )
}

/// The Statement of Applicability (cursor: after which control).
#[utoipa::path(
    get,
    path = "/api/v1/compliance/soa",
    operation_id = "get_soa",
    tag = "compliance",
    security(("bearer" = [])),
    params(SoaParams),
    responses(
        (status = 200, description = "One page of the SoA, or all of it as text/csv or application/pdf", body = SoaPage),
        (status = 422, description = "Bad limit or format", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(params): Query<SoaParams>,
) -> ApiResult<Response> {
    let entries = state.compliance.soa(&who).await?;
    match params.format.as_deref() {
        None | Some("json") => {}
        Some("csv") => {
            return Ok((
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                soa_csv(&entries),
            )
                .into_response());
        }
        Some("pdf") => {
            let name = state.compliance.tenant_name(&who).await?;
            let pdf =
                crate::pdf::soa_pdf(&entries, &name, isms_domain::time::now()).map_err(|e| {
                    tracing::error!(error = %e, "compliance.soa_pdf_failed");
                    ApiError::internal()
                })?;
            return Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response());
        }
        Some(_) => {
            return Err(crate::extract::field_errors(vec![serde_json::json!({
                "field": "format", "code": "invalid", "message": "json, csv or pdf"
            })]));
        }
    }
    let start = match params.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => {
            let after = B64URL
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(bad_cursor)?;
            entries
                .iter()
                .position(|e| e.control_id == after)
                .map(|i| i + 1)
                .ok_or_else(bad_cursor)?
        }
    };
    let limit = params.limit.unwrap_or(20) as usize;
    let page: Vec<SoaEntry> = entries.iter().skip(start).take(limit).cloned().collect();
    let next_cursor = (start + page.len() < entries.len())
        .then(|| page.last().map(|e| B64URL.encode(e.control_id.as_bytes())))
        .flatten();
    Ok(Json(SoaPage {
        items: page.into_iter().map(SoaView::from).collect(),
        next_cursor,
    })
    .into_response())
}

/// The request body: only the fields given change; `null` clears
/// `justification` or `owner`.
#[derive(Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct PatchBody(#[garde(skip)] pub SoaPatch);

/// Change one control's SoA decision (manager and above).
#[utoipa::path(
    patch,
    path = "/api/v1/compliance/soa/{control_id}",
    operation_id = "patch_soa",
    tag = "compliance",
    security(("bearer" = [])),
    params(("control_id" = String, Path, description = "Annex A control, e.g. 8.24")),
    request_body(content = Object, description = "`{\"applicable\":false,\"justification\":\"No premises of our own\",\"status\":\"not_started\",\"owner\":null}`"),
    responses(
        (status = 200, description = "The entry after the change", body = SoaView),
        (status = 404, description = "No such control", body = ErrorBody),
        (status = 422, description = "Invalid change (e.g. not applicable without a justification)", body = ErrorBody)
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(control_id): Path<String>,
    Json(PatchBody(body)): Json<PatchBody>,
) -> ApiResult<Json<SoaView>> {
    if control_id.len() > 8 {
        return Err(ApiError::not_found());
    }
    let entry = state
        .compliance
        .patch_soa(&who, &control_id, body, &meta)
        .await?;
    Ok(Json(entry.into()))
}
