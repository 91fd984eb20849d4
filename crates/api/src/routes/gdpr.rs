//! GDPR consent records: record, list, withdraw.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use isms_domain::compliance::{Consent, ConsentDraft, ConsentId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::routes::users::{ListParams, encode_cursor, page_request};
use crate::state::AppState;

/// The request body, checked by the domain: `subject`
/// (`{"type":"user","id":<uuid>}` or `{"type":"external","id":<opaque id>}`),
/// `purpose`, `lawful_basis`, `given_at`, `evidence` (required for consent).
#[derive(Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct ConsentBody(#[garde(skip)] pub ConsentDraft);

/// Record a consent or other lawful basis (manager and above).
#[utoipa::path(
    post,
    path = "/api/v1/gdpr/consents",
    operation_id = "record_consent",
    tag = "gdpr",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{\"subject\":{\"type\":\"external\",\"id\":\"cust-1042\"},\"purpose\":\"newsletter\",\"lawful_basis\":\"consent\",\"given_at\":\"2026-01-10T09:00:00Z\",\"evidence\":\"signup form v3\"}`"),
    responses(
        (status = 201, description = "Recorded", body = Object),
        (status = 422, description = "Invalid record (e.g. consent without evidence, an e-mail as subject id, a user of another tenant)", body = ErrorBody)
    )
)]
pub async fn record(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(ConsentBody(draft)): Json<ConsentBody>,
) -> ApiResult<Response> {
    let consent = state.gdpr.record_consent(&who, draft, &meta).await?;
    let location = format!("/api/v1/gdpr/consents/{}", consent.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(consent),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ConsentList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Consent>,
    pub next_cursor: Option<String>,
}

/// The tenant's consent records, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/gdpr/consents",
    operation_id = "list_consents",
    tag = "gdpr",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "One page of records", body = ConsentList))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<ConsentList>> {
    let page = state.gdpr.consents(&who, page_request(&params)?).await?;
    Ok(Json(ConsentList {
        next_cursor: encode_cursor(page.next_after),
        items: page.items,
    }))
}

/// Withdraw a consent (manager and above); once only.
#[utoipa::path(
    post,
    path = "/api/v1/gdpr/consents/{id}/withdraw",
    operation_id = "withdraw_consent",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Consent id")),
    responses(
        (status = 200, description = "Withdrawn", body = Object),
        (status = 404, description = "No such record in this tenant", body = ErrorBody),
        (status = 409, description = "Already withdrawn", body = ErrorBody)
    )
)]
pub async fn withdraw(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<Consent>> {
    Ok(Json(
        state
            .gdpr
            .withdraw_consent(&who, ConsentId::from_uuid(id), &meta)
            .await?,
    ))
}
