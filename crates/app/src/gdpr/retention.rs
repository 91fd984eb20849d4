//! Retention policies and the retention run: what is past retention is
//! reported, and erased where the policy enforces it (or a run is asked
//! to enforce every policy). Accounts are erased by crypto-shredding
//! (`erase_user`); other records are deleted. Every erasure is audited;
//! the audit log itself is never touched.

use chrono::Duration;
use isms_domain::TenantId;
use isms_domain::compliance::{
    CheckId, JobLease, RetentionCategory, RetentionFinding, RetentionPolicy, RetentionRun,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::PageRequest;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use super::GdprService;
use crate::AppError;

/// Records erased per transaction.
const ERASE_BATCH: u32 = 500;
/// The daily run's lease: one instance runs a tenant's retention a day.
const LEASE: &str = "gdpr_retention";
const LEASE_FOR: Duration = Duration::hours(23);

fn policy_event(who: &Principal, meta: &RequestMeta, details: serde_json::Value) -> SecurityEvent {
    SecurityEvent::new(K::RetentionPolicyChanged, Outcome::Success, meta)
        .tenant(who.tenant_id)
        .actor(who.user_id)
        .session(who.session_id)
        .details(details)
}

impl GdprService {
    pub async fn retention_policies(
        &self,
        who: &Principal,
    ) -> Result<Vec<RetentionPolicy>, AppError> {
        who.require(Permission::ComplianceRead)?;
        Ok(self.inner.gdpr.retention_policies(who.tenant_id).await?)
    }

    /// Sets a category's policy (admin). Turning enforcement on needs a
    /// step-up: from then on the daily run erases.
    pub async fn put_retention_policy(
        &self,
        who: &Principal,
        policy: RetentionPolicy,
        meta: &RequestMeta,
    ) -> Result<RetentionPolicy, AppError> {
        who.require(Permission::TenantAdmin)?;
        let policy = RetentionPolicy::new(policy.category, policy.days, policy.enforce)
            .map_err(|e| AppError::validation(e.field, "invalid", e.problem.to_string()))?;
        if policy.enforce {
            self.inner.auth.require_step_up(who)?;
        }
        let event = policy_event(
            who,
            meta,
            serde_json::json!({
                "category": policy.category.as_str(),
                "days": policy.days,
                "enforce": policy.enforce,
            }),
        );
        let repo = self.inner.gdpr.clone();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.put_retention_policy(tenant, policy, now(), records)
                    .await
            })
            .await?;
        Ok(policy)
    }

    pub async fn delete_retention_policy(
        &self,
        who: &Principal,
        category: RetentionCategory,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::TenantAdmin)?;
        let event = policy_event(
            who,
            meta,
            serde_json::json!({ "category": category.as_str(), "removed": true }),
        );
        let repo = self.inner.gdpr.clone();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.delete_retention_policy(tenant, category, records)
                    .await
            })
            .await
    }

    /// Runs retention now: reports, and with `enforce` erases under every
    /// policy (admin, step-up). Without it, nothing is erased, whatever
    /// the policies say.
    pub async fn run_retention(
        &self,
        who: &Principal,
        enforce: bool,
        meta: &RequestMeta,
    ) -> Result<RetentionRun, AppError> {
        who.require(Permission::ComplianceWrite)?;
        if enforce {
            who.require(Permission::TenantAdmin)?;
            self.inner.auth.require_step_up(who)?;
        }
        self.retention_for(who.tenant_id, Some(who), |_| enforce, meta)
            .await
    }

    /// The daily run over every tenant, each once across instances (by
    /// lease), erasing where a policy enforces. Returns the records
    /// erased.
    pub async fn run_retention_all(&self) -> Result<u64, AppError> {
        let meta = RequestMeta::default();
        let mut erased = 0;
        let mut page = PageRequest::first(100);
        loop {
            let tenants = self.inner.tenants.list(page).await?;
            for t in &tenants.items {
                let at = now();
                let lease = JobLease {
                    name: LEASE.into(),
                    tenant: t.id,
                    check: CheckId::GdprCompliance,
                    holder: self.holder.to_string(),
                    expires_at: at + LEASE_FOR,
                };
                if !self.inner.leases.try_acquire(&lease, at).await? {
                    continue;
                }
                let run = self.retention_for(t.id, None, |p| p.enforce, &meta).await?;
                erased += run.erased();
            }
            match tenants.next_after {
                Some(after) => {
                    page = PageRequest::new(Some(100), Some(after))
                        .map_err(|e| AppError::Internal(e.to_string()))?
                }
                None => return Ok(erased),
            }
        }
    }

    async fn retention_for(
        &self,
        tenant: TenantId,
        who: Option<&Principal>,
        enforce: impl Fn(&RetentionPolicy) -> bool,
        meta: &RequestMeta,
    ) -> Result<RetentionRun, AppError> {
        let at = now();
        let policies = self.inner.gdpr.retention_policies(tenant).await?;
        let mut run = RetentionRun::new(policies.iter().any(&enforce), at, &policies);
        for p in &policies {
            let cutoff = p.cutoff(at);
            let (expired, oldest) = self
                .inner
                .gdpr
                .past_retention(tenant, p.category, cutoff)
                .await?;
            let erased = if enforce(p) && expired > 0 {
                self.erase_past(tenant, who, p, cutoff, meta).await?
            } else {
                0
            };
            run.findings.push(RetentionFinding {
                category: p.category,
                days: p.days,
                expired,
                oldest_expired_at: oldest.map(|o| p.expires_at(o)),
                erased,
                erasure: p.category.erasure(),
            });
        }
        Ok(run)
    }

    async fn erase_past(
        &self,
        tenant: TenantId,
        who: Option<&Principal>,
        p: &RetentionPolicy,
        cutoff: isms_domain::time::Timestamp,
        meta: &RequestMeta,
    ) -> Result<u64, AppError> {
        let mut erased = 0u64;
        loop {
            let ids = self
                .inner
                .gdpr
                .past_retention_ids(tenant, p.category, cutoff, ERASE_BATCH)
                .await?;
            if ids.is_empty() {
                return Ok(erased);
            }
            let before = erased;
            if p.category == RetentionCategory::DeletedAccounts {
                for id in &ids {
                    if self.erase_user(who, tenant, (*id).into(), meta).await? {
                        erased += 1;
                    }
                }
            } else {
                let mut event = SecurityEvent::new(K::RetentionEnforced, Outcome::Success, meta)
                    .tenant(tenant)
                    .details(serde_json::json!({
                        "category": p.category.as_str(),
                        "days": p.days,
                        "records": ids.len(),
                    }));
                if let Some(w) = who {
                    event = event.actor(w.user_id).session(w.session_id);
                }
                let repo = self.inner.gdpr.clone();
                let category = p.category;
                erased += self
                    .inner
                    .audit
                    .change(vec![event], async move |records| {
                        repo.delete_past_retention(tenant, category, cutoff, &ids, records)
                            .await
                    })
                    .await?;
            }
            if erased == before {
                // Nothing more could be erased (raced or gone): stop.
                return Ok(erased);
            }
        }
    }
}
