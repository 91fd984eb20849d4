//! Storage port of the risk register. One repository for the aggregate
//! (assets, threats, vulnerabilities, exposures as risks, assessments and
//! treatments): an assessment writes the asset's schedule, its risks'
//! scores and their treatments in one transaction, which one port keeps
//! simple. Every write takes the audit records of its change.

use async_trait::async_trait;

use super::asset::{Asset, AssetStatus, AssetType};
use super::classification::Classification;
use super::engine::AssessmentResult;
use super::exposure::{Exposure, Risk};
use super::ids::{AssetId, RiskId, ThreatId, VulnerabilityId};
use super::level::RiskLevel;
use super::threat::{Threat, ThreatCategory};
use super::treatment::{Treatment, TreatmentStatus};
use super::vulnerability::{Severity, Vulnerability, VulnerabilityStatus};
use crate::audit::AuditRecord;
use crate::compliance::rules::RiskReviewInput;
use crate::ids::{TenantId, UserId};
use crate::page::{Page, PageRequest};
use crate::ports::RepoError;
use crate::time::Timestamp;

/// A list order: one field, ascending or descending, ties broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<F> {
    pub field: F,
    pub descending: bool,
}

impl<F: Default> Default for Sort<F> {
    fn default() -> Self {
        Self {
            field: F::default(),
            descending: false,
        }
    }
}

/// Fields lists can be sorted on (every entity has them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortField {
    /// Creation order (ids are time-ordered).
    #[default]
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

impl SortField {
    /// Parses `field` or `-field` (descending).
    pub fn parse(raw: &str) -> Option<Sort<Self>> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let field = match name {
            "id" => Self::Id,
            "name" => Self::Name,
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            _ => return None,
        };
        Some(Sort { field, descending })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    pub asset_type: Option<AssetType>,
    pub classification: Option<Classification>,
    pub owner: Option<UserId>,
    pub status: Option<AssetStatus>,
    /// The level of the asset's latest assessment.
    pub level: Option<RiskLevel>,
    pub tag: Option<String>,
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreatFilter {
    pub category: Option<ThreatCategory>,
    pub q: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VulnerabilityFilter {
    pub severity: Option<Severity>,
    pub status: Option<VulnerabilityStatus>,
    pub asset: Option<AssetId>,
    pub q: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskFilter {
    /// Inherent level.
    pub level: Option<RiskLevel>,
    /// Treatment status; `None` lists treated and untreated risks.
    pub status: Option<TreatmentStatus>,
    /// The risk owner: the treatment's owner, else the asset's.
    pub owner: Option<UserId>,
    pub asset: Option<AssetId>,
}

/// An asset's schedule as its latest assessment left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetSchedule {
    pub risk_score: Option<u16>,
    pub risk_level: Option<RiskLevel>,
    pub last_assessed_at: Option<Timestamp>,
    pub next_assessment_due: Option<Timestamp>,
}

/// One line of the register with the names it is read by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterEntry {
    pub risk: Risk,
    pub asset_name: String,
    pub asset_owner: Option<UserId>,
    pub threat_name: String,
    pub vulnerability_name: Option<String>,
    pub treatment: Option<Treatment>,
}

/// What the engine needs to assess one asset: the asset and every live
/// exposure with its threat and vulnerability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentInput {
    pub asset: Asset,
    pub pairs: Vec<ExposurePair>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposurePair {
    pub risk: Risk,
    pub threat: Threat,
    pub vulnerability: Option<Vulnerability>,
}

/// The writes of one assessment: the immutable result, the risks it
/// rescored and the treatments it rebased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentWrite {
    pub result: AssessmentResult,
    pub risks: Vec<Risk>,
    pub treatments: Vec<Treatment>,
}

#[async_trait]
pub trait RiskRepository: Send + Sync {
    /// Seeds the tenant's default threat catalogue once: `false` (and no
    /// write) when it was seeded before, even if those threats were since
    /// edited or deleted.
    async fn seed_catalogue(
        &self,
        tenant: TenantId,
        threats: &[Threat],
        audit: &[AuditRecord],
    ) -> Result<bool, RepoError>;

    async fn create_asset(&self, asset: &Asset, audit: &[AuditRecord]) -> Result<(), RepoError>;
    /// `NotFound` when missing, deleted or in another tenant.
    async fn get_asset(&self, tenant: TenantId, id: AssetId) -> Result<Asset, RepoError>;
    async fn asset_schedule(
        &self,
        tenant: TenantId,
        id: AssetId,
    ) -> Result<AssetSchedule, RepoError>;
    async fn update_asset(&self, asset: &Asset, audit: &[AuditRecord]) -> Result<(), RepoError>;
    /// Soft-deletes the asset and its exposures.
    async fn delete_asset(
        &self,
        tenant: TenantId,
        id: AssetId,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;
    async fn list_assets(
        &self,
        tenant: TenantId,
        filter: &AssetFilter,
        sort: Sort<SortField>,
        page: PageRequest,
    ) -> Result<Page<Asset>, RepoError>;

    async fn create_threat(&self, threat: &Threat, audit: &[AuditRecord]) -> Result<(), RepoError>;
    async fn get_threat(&self, tenant: TenantId, id: ThreatId) -> Result<Threat, RepoError>;
    async fn update_threat(&self, threat: &Threat, audit: &[AuditRecord]) -> Result<(), RepoError>;
    /// Soft-deletes the threat and the exposures through it.
    async fn delete_threat(
        &self,
        tenant: TenantId,
        id: ThreatId,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;
    async fn list_threats(
        &self,
        tenant: TenantId,
        filter: &ThreatFilter,
        sort: Sort<SortField>,
        page: PageRequest,
    ) -> Result<Page<Threat>, RepoError>;

    async fn create_vulnerability(
        &self,
        v: &Vulnerability,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;
    async fn get_vulnerability(
        &self,
        tenant: TenantId,
        id: VulnerabilityId,
    ) -> Result<Vulnerability, RepoError>;
    async fn update_vulnerability(
        &self,
        v: &Vulnerability,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;
    /// Soft-deletes the vulnerability and the exposures through it.
    async fn delete_vulnerability(
        &self,
        tenant: TenantId,
        id: VulnerabilityId,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;
    async fn list_vulnerabilities(
        &self,
        tenant: TenantId,
        filter: &VulnerabilityFilter,
        sort: Sort<SortField>,
        page: PageRequest,
    ) -> Result<Page<Vulnerability>, RepoError>;

    /// Stores a new exposure as a risk; `Conflict("exposure")` when the
    /// same asset × threat × vulnerability is linked already.
    async fn add_exposure(&self, risk: &Risk, audit: &[AuditRecord]) -> Result<(), RepoError>;
    /// Unlinks (soft-deletes) the risk of an exposure; `NotFound` when it
    /// is not linked.
    async fn remove_exposure(
        &self,
        exposure: &Exposure,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<RiskId, RepoError>;

    /// The input of one asset's assessment.
    async fn assessment_input(
        &self,
        tenant: TenantId,
        asset: AssetId,
    ) -> Result<AssessmentInput, RepoError>;
    /// Up to `limit` live assets that are due (never assessed, or next
    /// assessment at or before `now`), in id order after `after`.
    async fn due_for_assessment(
        &self,
        tenant: TenantId,
        now: Timestamp,
        after: Option<AssetId>,
        limit: u32,
    ) -> Result<Vec<AssessmentInput>, RepoError>;
    /// Writes assessments (results, asset schedules, rescored risks and
    /// rebased treatments) in one transaction.
    async fn record_assessments(
        &self,
        tenant: TenantId,
        writes: &[AssessmentWrite],
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;
    /// An asset's assessment history, newest first.
    async fn list_assessments(
        &self,
        tenant: TenantId,
        asset: AssetId,
        page: PageRequest,
    ) -> Result<Page<AssessmentResult>, RepoError>;

    async fn get_risk(&self, tenant: TenantId, id: RiskId) -> Result<RegisterEntry, RepoError>;
    /// The treatments of those of `risks` that have one, in no particular
    /// order (one query for a batch, where `get_risk` would be one a risk).
    async fn treatments_of(
        &self,
        tenant: TenantId,
        risks: &[RiskId],
    ) -> Result<Vec<Treatment>, RepoError>;
    /// The register, in risk id order.
    async fn list_risks(
        &self,
        tenant: TenantId,
        filter: &RiskFilter,
        page: PageRequest,
    ) -> Result<Page<RegisterEntry>, RepoError>;
    /// The whole filtered register (exports, heat maps).
    async fn all_risks(
        &self,
        tenant: TenantId,
        filter: &RiskFilter,
    ) -> Result<Vec<RegisterEntry>, RepoError>;
    /// Inserts or replaces the risk's treatment; with `risk`, also stores
    /// the risk's residual score the treatment set.
    async fn save_treatment(
        &self,
        treatment: &Treatment,
        risk: Option<&Risk>,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// The tenant's risk matrix; `None` when it never set one (the
    /// default applies).
    async fn matrix(
        &self,
        tenant: TenantId,
    ) -> Result<Option<super::config::RiskMatrixSpec>, RepoError>;

    /// Creates or replaces the tenant's matrix (validated by the caller).
    async fn put_matrix(
        &self,
        tenant: TenantId,
        spec: &super::config::RiskMatrixSpec,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// The `risk_review` compliance check's input at `now`: active assets
    /// with their next assessment date, and every live CRITICAL or HIGH
    /// risk (inherent level) of a live asset with whether its treatment is
    /// approved (approved, in progress or done).
    async fn risk_review_input(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<RiskReviewInput, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_parses_direction_and_rejects_unknown_fields() {
        assert_eq!(
            SortField::parse("-name"),
            Some(Sort {
                field: SortField::Name,
                descending: true
            })
        );
        assert_eq!(
            SortField::parse("created_at").map(|s| s.descending),
            Some(false)
        );
        assert_eq!(SortField::parse("password"), None);
        assert_eq!(SortField::parse("--name"), None);
    }
}
