//! Storage port of the GDPR records beyond consents: retention policies
//! and what is past them, data-subject requests and their exports, the
//! records held on a subject, and account erasure.

use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

use super::gdpr::{Consent, DataSubject, DataSubjectRequest, DsrStatus};
use super::ids::DsrId;
use super::ports::AccessReview;
use super::retention::{RetentionCategory, RetentionPolicy};
use crate::audit::AuditRecord;
use crate::ids::{TenantId, UserId};
use crate::page::{Page, PageRequest};
use crate::ports::RepoError;
use crate::time::Timestamp;

/// A session of the subject, as its export shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectSession {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An asset the subject owns (by user id) in the risk register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectAsset {
    pub id: Uuid,
    pub name: String,
}

/// What the GDPR store finds on a subject (the account itself comes from
/// the user repository, the audit trail from the audit log).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubjectRecords {
    pub sessions: Vec<SubjectSession>,
    pub consents: Vec<Consent>,
    pub requests: Vec<DataSubjectRequest>,
    pub access_reviews: Vec<AccessReview>,
    pub owned_assets: Vec<SubjectAsset>,
}

/// Why a download was refused.
pub const EXPORT_DOWNLOADED: &str = "export_downloaded";
pub const EXPORT_EXPIRED: &str = "export_expired";
/// A request changed under a concurrent transition.
pub const REQUEST_CHANGED: &str = "request_changed";

#[async_trait]
pub trait GdprRepository: Send + Sync {
    async fn retention_policies(&self, tenant: TenantId)
    -> Result<Vec<RetentionPolicy>, RepoError>;

    /// Creates or replaces the tenant's policy of `policy.category`.
    async fn put_retention_policy(
        &self,
        tenant: TenantId,
        policy: RetentionPolicy,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// `NotFound` when the category has no policy.
    async fn delete_retention_policy(
        &self,
        tenant: TenantId,
        category: RetentionCategory,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// Records of `category` whose retention clock started before
    /// `cutoff`: how many, and when the oldest one's started.
    async fn past_retention(
        &self,
        tenant: TenantId,
        category: RetentionCategory,
        cutoff: Timestamp,
    ) -> Result<(u64, Option<Timestamp>), RepoError>;

    /// Ids of at most `limit` of those records, oldest first.
    async fn past_retention_ids(
        &self,
        tenant: TenantId,
        category: RetentionCategory,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Vec<Uuid>, RepoError>;

    /// Deletes the listed records of `category` that are still past
    /// `cutoff`, with `audit`, in one transaction; returns how many.
    /// Accounts are not deleted but erased (`erase_account`).
    async fn delete_past_retention(
        &self,
        tenant: TenantId,
        category: RetentionCategory,
        cutoff: Timestamp,
        ids: &[Uuid],
        audit: &[AuditRecord],
    ) -> Result<u64, RepoError>;

    /// In one transaction: overwrites the account's e-mail and name,
    /// marks it erased, drops its sessions' IPs and user agents and its
    /// undownloaded exports, destroys the subject's key (leaving a
    /// tombstone) and appends `audit`. `false` when it was erased already;
    /// `NotFound` for no such account (deleted ones included).
    async fn erase_account(
        &self,
        tenant: TenantId,
        user: UserId,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<bool, RepoError>;

    async fn insert_request(
        &self,
        request: &DataSubjectRequest,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// `NotFound` for another tenant's request.
    async fn request(&self, tenant: TenantId, id: DsrId) -> Result<DataSubjectRequest, RepoError>;

    /// Oldest first.
    async fn requests(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<DataSubjectRequest>, RepoError>;

    /// Received or in progress, oldest first.
    async fn open_requests(&self, tenant: TenantId) -> Result<Vec<DataSubjectRequest>, RepoError>;

    /// Access and export requests waiting for their export: received, or
    /// in progress since before `stale_before` (an instance stopped while
    /// producing it), oldest first, across tenants.
    async fn queued_exports(
        &self,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<DataSubjectRequest>, RepoError>;

    /// Stores `request`'s status if the stored one is still `from`;
    /// `Conflict(REQUEST_CHANGED)` otherwise (another instance moved it).
    async fn update_request(
        &self,
        request: &DataSubjectRequest,
        from: DsrStatus,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// `update_request` plus the export, sealed under the tenant's
    /// restricted key, in the same transaction.
    async fn complete_export(
        &self,
        request: &DataSubjectRequest,
        from: DsrStatus,
        export: &[u8],
        expires_at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<(), RepoError>;

    /// The export of a request, once: marks it downloaded, drops the
    /// sealed payload and appends `audit`, in one transaction.
    /// `Conflict(EXPORT_DOWNLOADED)` the second time,
    /// `Conflict(EXPORT_EXPIRED)` after `expires_at`, `NotFound` when the
    /// request has no export.
    async fn take_export(
        &self,
        tenant: TenantId,
        id: DsrId,
        at: Timestamp,
        audit: &[AuditRecord],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, RepoError>;

    async fn subject_records(
        &self,
        tenant: TenantId,
        subject: &DataSubject,
    ) -> Result<SubjectRecords, RepoError>;

    /// Active users with no lawful-basis record in force at `at`.
    async fn users_without_lawful_basis(
        &self,
        tenant: TenantId,
        at: Timestamp,
    ) -> Result<Vec<UserId>, RepoError>;
}
