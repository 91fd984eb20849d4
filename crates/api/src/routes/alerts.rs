//! Security alerts raised by critical audit entries.

use axum::extract::State;
use isms_domain::ports::{AlertRecord, WebhookDelivery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::routes::users::{ListParams, encode_cursor, page_request};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct AlertView {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// `CRITICAL` (risk ≥ 9) or `HIGH`.
    pub severity: &'static str,
    pub event_type: String,
    pub risk_score: u8,
    pub description: String,
    pub required_actions: Vec<String>,
    /// The audit entry that raised it.
    pub entry_seq: u64,
    #[schema(value_type = String, format = Uuid)]
    pub entry_id: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub acknowledged_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub acknowledged_by: Option<isms_domain::UserId>,
    pub ack_comment: Option<String>,
}

impl From<AlertRecord> for AlertView {
    fn from(a: AlertRecord) -> Self {
        Self {
            id: a.id,
            severity: a.severity.as_str(),
            event_type: a.event_type,
            risk_score: a.risk_score,
            description: a.description,
            required_actions: a.required_actions,
            entry_seq: a.entry_seq,
            entry_id: a.entry_id,
            created_at: a.created_at,
            acknowledged_at: a.acknowledged_at,
            acknowledged_by: a.acknowledged_by,
            ack_comment: a.ack_comment,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<AlertView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Only alerts nobody acknowledged yet.
    #[garde(skip)]
    pub unacknowledged: Option<bool>,
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
}

/// The tenant's alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertParams),
    responses((status = 200, description = "One page of alerts", body = AlertList))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<AlertParams>,
) -> ApiResult<Json<AlertList>> {
    let page = page_request(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
    })?;
    let page = state
        .audit
        .alerts(&who, p.unacknowledged.unwrap_or(false), page)
        .await?;
    Ok(Json(AlertList {
        next_cursor: encode_cursor(page.next_after),
        items: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    pub target: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            target: d.target,
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: AlertView,
    pub deliveries: Vec<DeliveryView>,
}

/// One alert with its webhook deliveries.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    operation_id = "get_alert",
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The alert", body = AlertDetail))
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<AlertDetail>> {
    let (alert, deliveries) = state.audit.alert(&who, id).await?;
    Ok(Json(AlertDetail {
        alert: alert.into(),
        deliveries: deliveries.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema, garde::Validate, Default)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    #[garde(inner(length(chars, max = 1000)))]
    pub comment: Option<String>,
}

/// Acknowledge an alert (manager or admin).
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/ack",
    operation_id = "ack_alert",
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    request_body = AckRequest,
    responses(
        (status = 200, description = "Acknowledged", body = AlertView),
        (status = 409, description = "`conflict`: acknowledged already", body = ErrorBody)
    )
)]
pub async fn ack(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<uuid::Uuid>,
    Json(req): Json<AckRequest>,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(
        state
            .audit
            .acknowledge(&who, id, req.comment, &meta)
            .await?
            .into(),
    ))
}
