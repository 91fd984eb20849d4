//! Rows of the GDPR request and retention tables and their conversion to
//! domain values.

use chrono::{DateTime, Utc};
use isms_domain::compliance::{
    AccessReview, DataSubject, DataSubjectRequest, DsrId, DsrKind, DsrStatus, RetentionCategory,
    RetentionPolicy, ReviewOutcome, SubjectAsset, SubjectSession,
};
use isms_domain::ports::RepoError;
use uuid::Uuid;

use crate::compliance_rows::corrupt;

/// The subject of a stored row from its type and id columns.
pub(crate) fn subject_of(kind: &str, id: String) -> Result<DataSubject, RepoError> {
    match kind {
        "user" => Ok(DataSubject::User(
            id.parse::<Uuid>()
                .map_err(|_| corrupt("subject id"))?
                .into(),
        )),
        "external" => Ok(DataSubject::External(id)),
        _ => Err(corrupt("subject type")),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RequestRow {
    id: Uuid,
    tenant_id: Uuid,
    subject_type: String,
    subject_id: String,
    kind: String,
    status: String,
    requested_by: Uuid,
    created_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    rejection_reason: Option<String>,
    updated_at: DateTime<Utc>,
}

pub(crate) const REQUEST_COLUMNS: &str = "id, tenant_id, subject_type, subject_id, kind, status, \
     requested_by, created_at, due_at, completed_at, rejection_reason, updated_at";

impl TryFrom<RequestRow> for DataSubjectRequest {
    type Error = RepoError;
    fn try_from(r: RequestRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: DsrId::from_uuid(r.id),
            tenant_id: r.tenant_id.into(),
            subject: subject_of(&r.subject_type, r.subject_id)?,
            kind: DsrKind::parse(&r.kind).map_err(|_| corrupt("request kind"))?,
            status: DsrStatus::parse(&r.status).map_err(|_| corrupt("request status"))?,
            requested_by: r.requested_by.into(),
            created_at: r.created_at,
            due_at: r.due_at,
            completed_at: r.completed_at,
            rejection_reason: r.rejection_reason,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PolicyRow {
    category: String,
    days: i64,
    enforce: bool,
}

impl TryFrom<PolicyRow> for RetentionPolicy {
    type Error = RepoError;
    fn try_from(r: PolicyRow) -> Result<Self, RepoError> {
        let category =
            RetentionCategory::parse(&r.category).map_err(|_| corrupt("retention category"))?;
        let days = u32::try_from(r.days).map_err(|_| corrupt("retention days"))?;
        RetentionPolicy::new(category, days, r.enforce).map_err(|_| corrupt("retention days"))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl TryFrom<SessionRow> for SubjectSession {
    type Error = RepoError;
    fn try_from(r: SessionRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: r.id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            ip: r.ip,
            user_agent: r.user_agent,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReviewRow {
    id: Uuid,
    user_id: Uuid,
    reviewer_id: Uuid,
    outcome: String,
    comment: Option<String>,
    reviewed_at: DateTime<Utc>,
}

impl TryFrom<ReviewRow> for AccessReview {
    type Error = RepoError;
    fn try_from(r: ReviewRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: r.id,
            user_id: r.user_id.into(),
            reviewer_id: r.reviewer_id.into(),
            outcome: ReviewOutcome::parse(&r.outcome).map_err(|_| corrupt("review outcome"))?,
            comment: r.comment,
            reviewed_at: r.reviewed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssetRow {
    id: Uuid,
    name: String,
}

impl TryFrom<AssetRow> for SubjectAsset {
    type Error = RepoError;
    fn try_from(r: AssetRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: r.id,
            name: r.name,
        })
    }
}

/// Where each category's retention clock starts, and its table.
pub(crate) const fn clock_of(c: RetentionCategory) -> (&'static str, &'static str, &'static str) {
    match c {
        RetentionCategory::Sessions => ("sessions", "COALESCE(revoked_at, expires_at)", "TRUE"),
        RetentionCategory::WithdrawnConsents => ("gdpr_consents", "withdrawn_at", "TRUE"),
        RetentionCategory::DeletedAccounts => ("users", "deleted_at", "erased_at IS NULL"),
        RetentionCategory::ClosedRequests => (
            "gdpr_requests",
            "completed_at",
            "status IN ('completed', 'rejected')",
        ),
    }
}
