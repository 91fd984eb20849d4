//! The tenant's audit log: query, signed checkpoints, RFC 9162 proofs,
//! verification, and the tenant's audit policy.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use isms_app::audit_log::{ConsistencyProof, InclusionProof};
use isms_domain::audit::{AuditEntry, AuditPolicy, ComplianceFlag, VerifyReport};
use isms_domain::events::Outcome;
use isms_domain::ports::{AuditFilter, StoredCheckpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// One audit entry as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub seq: u64,
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<isms_domain::TenantId>,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub event_type: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub actor_user_id: Option<isms_domain::UserId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub session_id: Option<isms_domain::SessionId>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action: String,
    /// `success`, `failure` or `denied`.
    pub outcome: &'static str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// e.g. `GDPR_PROCESSING`, `ISO27001_ACCESS_VIOLATION`.
    pub compliance_flags: Vec<&'static str>,
    /// 0..10.
    pub risk_score: u8,
    /// Base64 SHA-256 leaf hash (RFC 9162: `SHA-256(0x00 ‖ entry)`).
    pub leaf_hash: String,
}

impl TryFrom<AuditEntry> for EntryView {
    type Error = ApiError;
    fn try_from(e: AuditEntry) -> Result<Self, ApiError> {
        let leaf = e.leaf_hash().map_err(|_| ApiError::internal())?;
        let r = e.record;
        Ok(Self {
            seq: e.seq,
            id: e.id,
            tenant_id: r.tenant_id,
            timestamp: e.timestamp,
            event_type: r.event_type,
            actor_user_id: r.actor_user_id,
            session_id: r.session_id,
            request_id: r.request_id,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            action: r.action,
            outcome: r.outcome.as_str(),
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details,
            compliance_flags: r.compliance_flags.iter().map(|f| f.as_str()).collect(),
            risk_score: r.risk_score,
            leaf_hash: B64.encode(leaf),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryList {
    pub items: Vec<EntryView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Entries at or after this time (RFC 3339).
    #[garde(skip)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries before this time (RFC 3339).
    #[garde(skip)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    #[garde(inner(length(max = 128)))]
    pub event_type: Option<String>,
    #[garde(skip)]
    #[param(value_type = Option<String>, format = Uuid)]
    pub actor: Option<uuid::Uuid>,
    #[garde(inner(length(max = 64)))]
    pub resource_type: Option<String>,
    #[garde(inner(length(max = 128)))]
    pub resource_id: Option<String>,
    /// `success`, `failure` or `denied`.
    #[garde(inner(length(max = 16)))]
    pub outcome: Option<String>,
    /// Only entries scoring at least this (0..10).
    #[garde(inner(range(max = 10)))]
    pub min_risk: Option<u8>,
    /// One compliance flag, e.g. `GDPR_PROCESSING`.
    #[garde(inner(length(max = 64)))]
    pub flag: Option<String>,
    /// 1..=100, default 20.
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    #[garde(inner(length(max = 32)))]
    pub cursor: Option<String>,
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
        .with_details(serde_json::json!({ "fields": [{ "field": field, "code": "invalid", "message": message }] }))
}

fn filter_of(p: EventParams) -> Result<AuditFilter, ApiError> {
    let outcome = p
        .outcome
        .as_deref()
        .map(|o| {
            Outcome::parse(o).ok_or_else(|| bad("outcome", "expected success, failure or denied"))
        })
        .transpose()?;
    let flag = p
        .flag
        .as_deref()
        .map(|f| ComplianceFlag::parse(f).ok_or_else(|| bad("flag", "unknown compliance flag")))
        .transpose()?;
    let before_seq = match p.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "The cursor is not valid.",
            )
        })?),
    };
    Ok(AuditFilter {
        from: p.from,
        to: p.to,
        event_type: p.event_type,
        actor_user_id: p.actor.map(Into::into),
        resource_type: p.resource_type,
        resource_id: p.resource_id,
        outcome,
        min_risk: p.min_risk,
        flag,
        before_seq,
        limit: p.limit.unwrap_or(20),
    })
}

/// Query the tenant's audit log, newest first (auditor or admin).
#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    operation_id = "list_audit_events",
    tag = "audit",
    security(("bearer" = [])),
    params(EventParams),
    responses((status = 200, description = "One page of entries", body = EntryList))
)]
pub async fn events(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(params): Query<EventParams>,
) -> ApiResult<Json<EntryList>> {
    let (entries, next) = state.audit.events(&who, filter_of(params)?).await?;
    Ok(Json(EntryList {
        items: entries
            .into_iter()
            .map(EntryView::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor: next.map(|s| s.to_string()),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CheckpointView {
    /// `tenant:<uuid>`.
    pub log_id: String,
    pub tree_size: u64,
    /// Base64 root hash.
    pub root_hash: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// The whole C2SP signed note (verify it with the key from
    /// `GET /api/v1/audit/log-key`).
    pub note: String,
}

impl From<StoredCheckpoint> for CheckpointView {
    fn from(c: StoredCheckpoint) -> Self {
        Self {
            log_id: c.log_id.to_string(),
            tree_size: c.checkpoint.tree_size,
            root_hash: B64.encode(c.checkpoint.root_hash),
            timestamp: c.checkpoint.timestamp,
            note: c.note,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryDetail {
    #[serde(flatten)]
    pub entry: EntryView,
    /// The checkpoint the proof is against.
    pub checkpoint: Option<CheckpointView>,
    /// Inclusion proof against `checkpoint` (null while the entry is newer
    /// than every checkpoint).
    pub inclusion_proof: Option<InclusionView>,
}

/// One entry with its inclusion proof against the latest checkpoint.
#[utoipa::path(
    get,
    path = "/api/v1/audit/events/{id}",
    operation_id = "get_audit_event",
    tag = "audit",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The entry", body = EntryDetail))
)]
pub async fn event(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<EntryDetail>> {
    let found = state.audit.event(&who, id).await?;
    Ok(Json(EntryDetail {
        entry: found.entry.try_into()?,
        checkpoint: found.checkpoint.map(Into::into),
        inclusion_proof: found.proof.map(Into::into),
    }))
}

/// The latest signed checkpoint of the tenant's log.
#[utoipa::path(
    get,
    path = "/api/v1/audit/checkpoint",
    operation_id = "get_audit_checkpoint",
    tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, description = "The checkpoint", body = CheckpointView))
)]
pub async fn checkpoint(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<CheckpointView>> {
    Ok(Json(state.audit.checkpoint(&who).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct LogKeyView {
    /// The signed-note key name.
    pub key_name: String,
    /// Base64 Ed25519 public key (32 bytes).
    pub public_key: String,
    /// `<name>+<hex key id>+<base64(0x01 ‖ key)>`, as signed-note
    /// verifiers and `isms audit verify --pubkey` take it.
    pub verifier_key: String,
    pub algorithm: &'static str,
}

/// The public key that signs checkpoints.
#[utoipa::path(
    get,
    path = "/api/v1/audit/log-key",
    operation_id = "get_audit_log_key",
    tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, description = "The log key", body = LogKeyView))
)]
pub async fn log_key(
    State(state): State<AppState>,
    Auth(_who): Auth,
) -> ApiResult<Json<LogKeyView>> {
    let signer = state.audit.signer();
    let public = signer.public_key();
    Ok(Json(LogKeyView {
        key_name: signer.key_name().to_owned(),
        public_key: B64.encode(public),
        verifier_key: isms_domain::audit::verifier_key(signer.key_name(), &public),
        algorithm: "Ed25519",
    }))
}

#[derive(Serialize, ToSchema)]
pub struct InclusionView {
    pub seq: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub path: Vec<String>,
}

impl From<InclusionProof> for InclusionView {
    fn from(p: InclusionProof) -> Self {
        Self {
            seq: p.seq,
            tree_size: p.tree_size,
            leaf_hash: B64.encode(p.leaf_hash),
            path: p.path.iter().map(|h| B64.encode(h)).collect(),
        }
    }
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    #[garde(skip)]
    pub seq: u64,
    #[garde(skip)]
    pub tree_size: u64,
}

/// RFC 9162 inclusion proof of entry `seq` in the tree of `tree_size`.
#[utoipa::path(
    get,
    path = "/api/v1/audit/proofs/inclusion",
    operation_id = "get_inclusion_proof",
    tag = "audit",
    security(("bearer" = [])),
    params(InclusionParams),
    responses(
        (status = 200, description = "The proof", body = InclusionView),
        (status = 422, description = "`seq`/`tree_size` out of range", body = ErrorBody)
    )
)]
pub async fn inclusion(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<InclusionParams>,
) -> ApiResult<Json<InclusionView>> {
    Ok(Json(
        state
            .audit
            .inclusion(&who, p.seq, p.tree_size)
            .await?
            .into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyView {
    pub from: u64,
    pub to: u64,
    pub path: Vec<String>,
}

impl From<ConsistencyProof> for ConsistencyView {
    fn from(p: ConsistencyProof) -> Self {
        Self {
            from: p.from,
            to: p.to,
            path: p.path.iter().map(|h| B64.encode(h)).collect(),
        }
    }
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    #[garde(skip)]
    pub from: u64,
    #[garde(skip)]
    pub to: u64,
}

/// RFC 9162 consistency proof between the trees of sizes `from` and `to`.
#[utoipa::path(
    get,
    path = "/api/v1/audit/proofs/consistency",
    operation_id = "get_consistency_proof",
    tag = "audit",
    security(("bearer" = [])),
    params(ConsistencyParams),
    responses(
        (status = 200, description = "The proof", body = ConsistencyView),
        (status = 422, description = "sizes out of range", body = ErrorBody)
    )
)]
pub async fn consistency(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<ConsistencyParams>,
) -> ApiResult<Json<ConsistencyView>> {
    Ok(Json(
        state.audit.consistency(&who, p.from, p.to).await?.into(),
    ))
}

/// Re-hash the whole tenant log, rebuild the tree and check every
/// checkpoint; reports the first bad `seq` and why.
#[utoipa::path(
    post,
    path = "/api/v1/audit/verify",
    operation_id = "verify_audit_log",
    tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, description = "The report (`first_failure` null when the log verifies)", body = Object))
)]
pub async fn verify(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
) -> ApiResult<Json<VerifyReport>> {
    Ok(Json(state.audit.verify(&who, &meta).await?))
}

/// The request body: the policy itself, validated by the domain.
#[derive(serde::Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct AuditPolicyBody(#[garde(skip)] pub AuditPolicy);

/// The tenant's audit policy: suspicious IPs, business hours, risk table.
#[utoipa::path(
    get,
    path = "/api/v1/tenant/audit-policy",
    operation_id = "get_audit_policy",
    tag = "tenant",
    security(("bearer" = [])),
    responses((status = 200, description = "The policy (defaults when none is set)", body = Object))
)]
pub async fn get_policy(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<AuditPolicy>> {
    Ok(Json(state.audit.policy(&who).await?))
}

/// Replace the tenant's audit policy (needs MFA step-up).
#[utoipa::path(
    put,
    path = "/api/v1/tenant/audit-policy",
    operation_id = "put_audit_policy",
    tag = "tenant",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{\"suspicious_ips\":[\"203.0.113.0/24\"],\"business_hours\":{...},\"risk_table\":{...}}`"),
    responses(
        (status = 200, description = "Stored", body = Object),
        (status = 422, description = "Invalid policy", body = ErrorBody)
    )
)]
pub async fn put_policy(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(AuditPolicyBody(policy)): Json<AuditPolicyBody>,
) -> ApiResult<Json<AuditPolicy>> {
    Ok(Json(state.audit.put_policy(&who, policy, &meta).await?))
}
