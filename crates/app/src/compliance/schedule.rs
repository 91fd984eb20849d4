//! The scheduled runs: every tenant's due checks at their frequency,
//! exactly once across all instances. Each due check is run by the
//! instance that takes its lease (an atomic conditional upsert in the
//! database). The lease is kept until it expires rather than released, and
//! the holder re-reads the check's last run after taking it: an instance
//! that takes over after a completed run finds the check no longer due,
//! while a run whose instance died is retried once the lease expires.

use chrono::Duration;
use isms_domain::TenantId;
use isms_domain::compliance::{CheckId, JobLease};
use isms_domain::page::PageRequest;
use isms_domain::time::now;

use super::{ComplianceService, Trigger};
use crate::AppError;

/// The job name on the leases.
pub const LEASE_NAME: &str = "compliance_check";
/// How long a lease holds; longer than any one check takes.
pub const LEASE_TTL: Duration = Duration::minutes(10);

const TENANT_BATCH: u32 = 100;

impl ComplianceService {
    /// Runs the due checks of every tenant; returns how many ran here.
    /// A tenant that fails is logged and skipped, so one cannot starve the
    /// others.
    pub async fn run_due(&self) -> Result<u32, AppError> {
        let mut ran = 0;
        let mut page = PageRequest::first(TENANT_BATCH);
        loop {
            let tenants = self.inner.tenants.list(page).await?;
            for t in &tenants.items {
                match self.run_due_for(t.id).await {
                    Ok(n) => ran += n,
                    Err(e) => tracing::warn!(tenant = %t.id, error = %e, "compliance.run_failed"),
                }
            }
            match tenants.next_after {
                Some(after) => {
                    page = PageRequest::new(Some(TENANT_BATCH), Some(after))
                        .map_err(|_| AppError::Internal("tenant page".into()))?;
                }
                None => break,
            }
        }
        Ok(ran)
    }

    /// Runs the tenant's due checks that this instance wins the lease of.
    pub async fn run_due_for(&self, tenant: TenantId) -> Result<u32, AppError> {
        let config = self.tenant_config(tenant).await?;
        let due = self.due(tenant, &config).await?;
        let mut mine = Vec::new();
        for check in due {
            let at = now();
            let lease = JobLease {
                name: LEASE_NAME.to_owned(),
                tenant,
                check,
                holder: self.inner.holder.clone(),
                expires_at: at + LEASE_TTL,
            };
            if self.inner.leases.try_acquire(&lease, at).await? {
                mine.push(check);
            }
        }
        if mine.is_empty() {
            return Ok(0);
        }
        // Another instance may have completed a run between our reading
        // and our taking the lease.
        let still_due = self.due(tenant, &config).await?;
        mine.retain(|c| still_due.contains(c));
        if mine.is_empty() {
            return Ok(0);
        }
        self.run(tenant, &config, &mine, Trigger::Schedule).await?;
        Ok(u32::try_from(mine.len()).unwrap_or(u32::MAX))
    }

    async fn due(
        &self,
        tenant: TenantId,
        config: &isms_domain::compliance::CheckConfig,
    ) -> Result<Vec<CheckId>, AppError> {
        let latest = self.inner.repo.latest_results(tenant).await?;
        let at = now();
        Ok(config
            .checks
            .enabled()
            .filter(|&c| {
                let last = latest.iter().find(|r| r.check == c).map(|r| r.ran_at);
                config.settings(c).frequency.is_due(last, at)
            })
            .collect())
    }
}
