//! Data-subject requests: record, list, read, move by hand, and download
//! an export once.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use isms_domain::compliance::{DataSubjectRequest, DsrId, DsrKind, DsrStatus, RequestDraft};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::routes::users::{ListParams, encode_cursor, page_request};
use crate::state::AppState;

/// The request body, checked by the domain and the service: `subject`
/// (`{"type":"user","id":<uuid>}` or `{"type":"external","id":<opaque id>}`),
/// `kind` (`access`, `export`, `erasure`, `rectification`), and for
/// rectification of a user `changes` (`display_name`, `email`).
#[derive(Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct RequestBody(#[garde(skip)] pub RequestDraft);

fn location(r: &DataSubjectRequest) -> String {
    format!("/api/v1/gdpr/requests/{}", r.id)
}

/// Record a data-subject request (manager and above). Access and export
/// are answered asynchronously (202; the export appears when the request
/// is `completed`). Erasure of a user (step-up required) erases the
/// account, and rectification of a user corrects it, at once (201,
/// `completed`). Requests about external subjects are tracked (201,
/// `received`) for the tenant to fulfil and close.
#[utoipa::path(
    post,
    path = "/api/v1/gdpr/requests",
    operation_id = "create_data_subject_request",
    tag = "gdpr",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{\"subject\":{\"type\":\"user\",\"id\":\"…\"},\"kind\":\"export\"}`"),
    responses(
        (status = 201, description = "Recorded (and fulfilled, for erasure or rectification of a user)", body = Object),
        (status = 202, description = "Recorded; the export is being produced", body = Object),
        (status = 403, description = "Not allowed, or a step-up is needed for erasure", body = ErrorBody),
        (status = 422, description = "Invalid request (unknown user, changes where none apply, own account)", body = ErrorBody)
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(RequestBody(draft)): Json<RequestBody>,
) -> ApiResult<Response> {
    let r = state.gdpr.create_request(&who, draft, &meta).await?;
    let status = match r.kind {
        DsrKind::Access | DsrKind::Export => StatusCode::ACCEPTED,
        DsrKind::Erasure | DsrKind::Rectification => StatusCode::CREATED,
    };
    Ok((status, [(header::LOCATION, location(&r))], Json(r)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct RequestList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<DataSubjectRequest>,
    pub next_cursor: Option<String>,
}

/// The tenant's data-subject requests, oldest first, each with its
/// `status` and `due_at` (30 days after receipt by default).
#[utoipa::path(
    get,
    path = "/api/v1/gdpr/requests",
    operation_id = "list_data_subject_requests",
    tag = "gdpr",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "One page of requests", body = RequestList))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<RequestList>> {
    let page = state.gdpr.requests(&who, page_request(&params)?).await?;
    Ok(Json(RequestList {
        next_cursor: encode_cursor(page.next_after),
        items: page.items,
    }))
}

/// One data-subject request.
#[utoipa::path(
    get,
    path = "/api/v1/gdpr/requests/{id}",
    operation_id = "get_data_subject_request",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Request id")),
    responses(
        (status = 200, description = "The request", body = Object),
        (status = 404, description = "No such request in this tenant", body = ErrorBody)
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<DataSubjectRequest>> {
    Ok(Json(state.gdpr.request(&who, DsrId::from_uuid(id)).await?))
}

/// A move by hand: `{"status":"rejected","reason":"…"}` for any open
/// request; `in_progress` or `completed` only for requests the server
/// does not fulfil itself (about external subjects, other than exports).
#[derive(Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    #[garde(skip)]
    pub status: DsrStatus,
    #[garde(inner(length(max = 2000)))]
    pub reason: Option<String>,
}

/// Move a request (manager and above).
#[utoipa::path(
    patch,
    path = "/api/v1/gdpr/requests/{id}",
    operation_id = "update_data_subject_request",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Request id")),
    request_body(content = Object, description = "`{\"status\":\"rejected\",\"reason\":\"identity not verified\"}`"),
    responses(
        (status = 200, description = "Moved", body = Object),
        (status = 409, description = "Closed already, or fulfilled by the server (`request_automated`)", body = ErrorBody),
        (status = 422, description = "A rejection without a reason, or a reason on another move", body = ErrorBody)
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<uuid::Uuid>,
    Json(body): Json<TransitionBody>,
) -> ApiResult<Json<DataSubjectRequest>> {
    Ok(Json(
        state
            .gdpr
            .transition(
                &who,
                DsrId::from_uuid(id),
                body.status,
                body.reason.as_deref(),
                &meta,
            )
            .await?,
    ))
}

/// Download the export of a completed access or export request: once,
/// by whoever recorded the request or an admin, after an MFA step-up.
/// The body is the JSON of everything held on the subject (`format`
/// `isms.subject-export.v1`); each download is a `data_export` audit
/// record.
#[utoipa::path(
    get,
    path = "/api/v1/gdpr/requests/{id}/export",
    operation_id = "download_data_subject_export",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Request id")),
    responses(
        (status = 200, description = "The export (application/json attachment)", body = Object),
        (status = 403, description = "Not the requester, or a step-up is needed", body = ErrorBody),
        (status = 404, description = "No such request, or it has no export", body = ErrorBody),
        (status = 409, description = "Still being produced (`export_not_ready`)", body = ErrorBody),
        (status = 410, description = "Downloaded already (`export_downloaded`) or expired (`export_expired`)", body = ErrorBody)
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Response> {
    let bytes = state
        .gdpr
        .download_export(&who, DsrId::from_uuid(id), &meta)
        .await?;
    let disposition = format!("attachment; filename=\"subject-export-{id}.json\"");
    let mut res = (StatusCode::OK, bytes.to_vec()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
