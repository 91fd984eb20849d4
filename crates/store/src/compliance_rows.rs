//! Rows of the compliance tables and their conversion to domain values.

use chrono::{DateTime, Utc};
use isms_domain::compliance::{
    CheckConfig, CheckId, CheckResult, CheckStatus, OverallStatus, Score, ScoreSnapshot, Severity,
};
use isms_domain::ports::RepoError;
use uuid::Uuid;

pub(crate) fn corrupt(what: &str) -> RepoError {
    RepoError::Internal(format!("stored {what} is invalid"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct ResultRow {
    check_id: String,
    severity: String,
    status: String,
    message: String,
    details: String,
    recommendation: Option<String>,
    controls: String,
    ran_at: DateTime<Utc>,
}

pub(crate) const RESULT_COLUMNS: &str =
    "check_id, severity, status, message, details, recommendation, controls, ran_at";

impl TryFrom<ResultRow> for CheckResult {
    type Error = RepoError;
    fn try_from(r: ResultRow) -> Result<Self, RepoError> {
        Ok(CheckResult {
            check: CheckId::parse(&r.check_id).map_err(|_| corrupt("check id"))?,
            severity: Severity::parse(&r.severity).map_err(|_| corrupt("check severity"))?,
            status: CheckStatus::parse(&r.status).map_err(|_| corrupt("check status"))?,
            message: r.message,
            details: serde_json::from_str(&r.details).map_err(|_| corrupt("check details"))?,
            recommendation: r.recommendation,
            controls: serde_json::from_str(&r.controls).map_err(|_| corrupt("check controls"))?,
            ran_at: r.ran_at,
        })
    }
}

/// The JSON texts of a result's `details` and `controls`.
pub(crate) fn result_json(r: &CheckResult) -> Result<(String, String), RepoError> {
    let enc = |e: serde_json::Error| RepoError::Internal(format!("encoding a result: {e}"));
    Ok((
        serde_json::to_string(&r.details).map_err(enc)?,
        serde_json::to_string(&r.controls).map_err(enc)?,
    ))
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScoreRow {
    id: Uuid,
    overall_status: String,
    score_tenths: i64,
    critical_issues: i64,
    warnings: i64,
    ran_at: DateTime<Utc>,
}

pub(crate) const SCORE_COLUMNS: &str = "id, overall_status, CAST(score_tenths AS BIGINT) AS score_tenths, \
     CAST(critical_issues AS BIGINT) AS critical_issues, CAST(warnings AS BIGINT) AS warnings, ran_at";

impl TryFrom<ScoreRow> for ScoreSnapshot {
    type Error = RepoError;
    fn try_from(r: ScoreRow) -> Result<Self, RepoError> {
        let count = |n: i64| u32::try_from(n).map_err(|_| corrupt("issue count"));
        Ok(ScoreSnapshot {
            id: r.id,
            overall_status: OverallStatus::parse(&r.overall_status)
                .map_err(|_| corrupt("overall status"))?,
            score: u16::try_from(r.score_tenths)
                .ok()
                .and_then(Score::from_tenths)
                .ok_or_else(|| corrupt("score"))?,
            critical_issues: count(r.critical_issues)?,
            warnings: count(r.warnings)?,
            ran_at: r.ran_at,
        })
    }
}

pub(crate) fn config_of(text: &str) -> Result<CheckConfig, RepoError> {
    serde_json::from_str(text).map_err(|_| corrupt("compliance configuration"))
}

pub(crate) fn config_text(config: &CheckConfig) -> Result<String, RepoError> {
    serde_json::to_string(config)
        .map_err(|e| RepoError::Internal(format!("encoding the configuration: {e}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct SoaRow {
    control_id: String,
    applicable: bool,
    justification: Option<String>,
    status: String,
    owner_id: Option<Uuid>,
}

pub(crate) const SOA_COLUMNS: &str = "control_id, applicable, justification, status, owner_id";

impl TryFrom<SoaRow> for isms_domain::compliance::SoaDecision {
    type Error = RepoError;
    fn try_from(r: SoaRow) -> Result<Self, RepoError> {
        Ok(Self {
            control_id: r.control_id,
            applicable: r.applicable,
            justification: r.justification,
            status: isms_domain::compliance::ImplementationStatus::parse(&r.status)
                .map_err(|_| corrupt("SoA status"))?,
            owner: r.owner_id.map(Into::into),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReportRow {
    report: String,
    signature: String,
    key_id: String,
}

impl TryFrom<ReportRow> for isms_domain::compliance::SignedReport {
    type Error = RepoError;
    fn try_from(r: ReportRow) -> Result<Self, RepoError> {
        let report: isms_domain::compliance::ComplianceReport =
            serde_json::from_str(&r.report).map_err(|_| corrupt("compliance report"))?;
        Ok(Self {
            checkpoint: report.audit_summary.checkpoint.clone(),
            report,
            signature: r.signature,
            key_id: r.key_id,
        })
    }
}

pub(crate) fn report_text(r: &isms_domain::compliance::SignedReport) -> Result<String, RepoError> {
    serde_json::to_string(&r.report)
        .map_err(|e| RepoError::Internal(format!("encoding a report: {e}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    id: Uuid,
    tenant_id: Uuid,
    subject_type: String,
    subject_id: String,
    purpose: String,
    lawful_basis: String,
    given_at: DateTime<Utc>,
    withdrawn_at: Option<DateTime<Utc>>,
    evidence: String,
    created_at: DateTime<Utc>,
}

pub(crate) const CONSENT_COLUMNS: &str = "id, tenant_id, subject_type, subject_id, purpose, \
     lawful_basis, given_at, withdrawn_at, evidence, created_at";

/// The stored type and id of a subject.
pub(crate) fn subject_columns(s: &isms_domain::compliance::DataSubject) -> (&'static str, String) {
    match s {
        isms_domain::compliance::DataSubject::User(u) => ("user", u.to_string()),
        isms_domain::compliance::DataSubject::External(id) => ("external", id.clone()),
    }
}

impl TryFrom<ConsentRow> for isms_domain::compliance::Consent {
    type Error = RepoError;
    fn try_from(r: ConsentRow) -> Result<Self, RepoError> {
        let subject = crate::gdpr_rows::subject_of(&r.subject_type, r.subject_id)?;
        Ok(Self {
            id: isms_domain::compliance::ConsentId::from_uuid(r.id),
            tenant_id: r.tenant_id.into(),
            subject,
            purpose: r.purpose,
            lawful_basis: isms_domain::compliance::LawfulBasis::parse(&r.lawful_basis)
                .map_err(|_| corrupt("lawful basis"))?,
            given_at: r.given_at,
            withdrawn_at: r.withdrawn_at,
            evidence: r.evidence,
            created_at: r.created_at,
        })
    }
}
