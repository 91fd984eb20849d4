//! Storage ports of the compliance monitor: check results and the score
//! history, per-tenant configuration, access reviews, and the job leases
//! that make a scheduled check run on one instance only. The inputs of
//! `risk_review` and `gdpr_compliance` come from sources other features
//! provide; the runner treats a missing source as an `ERROR` result.

use async_trait::async_trait;
use serde::Serialize;

use super::check::{CheckId, CheckResult};
use super::config::CheckConfig;
use super::ids::ReportId;
use super::report::{SignedReport, TopRisk};
use super::rules::{GdprInput, RiskReviewInput};
use super::soa::SoaDecision;
use super::status::{OverallStatus, Score};
use super::vocab::vocabulary;
use crate::ids::{TenantId, UserId};
use crate::page::{Page, PageRequest};
use crate::ports::RepoError;
use crate::time::Timestamp;

/// The overall status and score after one run: one point of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreSnapshot {
    pub id: uuid::Uuid,
    pub overall_status: OverallStatus,
    pub score: Score,
    pub critical_issues: u32,
    pub warnings: u32,
    pub ran_at: Timestamp,
}

vocabulary!(
    /// What an access review decided about a user's access rights.
    ReviewOutcome, field = "outcome" {
        Keep => "keep",
        Modify => "modify",
        Revoke => "revoke",
    }
);

/// One recorded review of one user's access rights (Annex A 5.18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessReview {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    pub reviewer_id: UserId,
    pub outcome: ReviewOutcome,
    pub comment: Option<String>,
    pub reviewed_at: Timestamp,
}

#[async_trait]
pub trait ComplianceRepository: Send + Sync {
    /// The tenant's configuration; `None` when it never changed one.
    async fn config(&self, tenant: TenantId) -> Result<Option<CheckConfig>, RepoError>;

    async fn put_config(
        &self,
        tenant: TenantId,
        config: &CheckConfig,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// Appends the results of one run and the status after it.
    async fn record_run(
        &self,
        tenant: TenantId,
        results: &[CheckResult],
        snapshot: &ScoreSnapshot,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// The most recent result of each check that ever ran.
    async fn latest_results(&self, tenant: TenantId) -> Result<Vec<CheckResult>, RepoError>;

    /// The score history, oldest first.
    async fn history(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<ScoreSnapshot>, RepoError>;

    /// Stores reviews and sets each reviewed user's
    /// `last_access_review_at`, all or nothing; `NotFound` when a user is
    /// not a live user of `tenant`.
    async fn record_reviews(
        &self,
        tenant: TenantId,
        reviews: &[AccessReview],
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// The tenant's stored SoA decisions (controls without one take the
    /// catalogue's defaults).
    async fn soa_decisions(&self, tenant: TenantId) -> Result<Vec<SoaDecision>, RepoError>;

    async fn put_soa_decision(
        &self,
        tenant: TenantId,
        decision: &SoaDecision,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    async fn insert_report(
        &self,
        report: &SignedReport,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// `NotFound` for another tenant's report.
    async fn report(&self, tenant: TenantId, id: ReportId) -> Result<SignedReport, RepoError>;
}

/// A lease on one job × tenant × check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub name: String,
    pub tenant: TenantId,
    pub check: CheckId,
    /// The instance that holds it.
    pub holder: String,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait JobLeases: Send + Sync {
    /// Takes the lease when nobody holds it, it expired at `now`, or
    /// `lease.holder` already holds it, in one atomic statement; `false`
    /// when another holder keeps it.
    async fn try_acquire(&self, lease: &JobLease, now: Timestamp) -> Result<bool, RepoError>;
}

/// The input of `risk_review`, from the risk register.
#[async_trait]
pub trait RiskReviewSource: Send + Sync {
    async fn risk_review_input(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<RiskReviewInput, RepoError>;

    /// Every assessed risk, for the report's risk summary.
    async fn risks(&self, tenant: TenantId) -> Result<Vec<TopRisk>, RepoError>;

    /// Treatments that plan Annex A controls, for the SoA's evidence.
    async fn treatment_links(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<super::soa::TreatmentLink>, RepoError>;
}

/// The input of `gdpr_compliance`, from the GDPR records.
#[async_trait]
pub trait GdprSource: Send + Sync {
    async fn gdpr_input(&self, tenant: TenantId, now: Timestamp) -> Result<GdprInput, RepoError>;
}

/// Consent (and other lawful-basis) records.
#[async_trait]
pub trait ConsentRepository: Send + Sync {
    async fn insert_consent(
        &self,
        consent: &super::gdpr::Consent,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// `NotFound` for another tenant's record.
    async fn consent(
        &self,
        tenant: TenantId,
        id: super::ids::ConsentId,
    ) -> Result<super::gdpr::Consent, RepoError>;

    /// Oldest first.
    async fn consents(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<super::gdpr::Consent>, RepoError>;

    /// Sets `withdrawn_at` once; `Conflict("consent_withdrawn")` when it
    /// was already set.
    async fn withdraw_consent(
        &self,
        tenant: TenantId,
        id: super::ids::ConsentId,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
}
