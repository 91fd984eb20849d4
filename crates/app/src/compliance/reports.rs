//! Signed compliance reports: built by the domain from the latest result
//! of each enabled check, the audit summary of the last 30 days and the
//! risk summary (empty while no risk register is wired), against the
//! tenant log's checkpoint signed at that moment, then signed with the
//! audit log key and stored.

use isms_domain::TenantId;
use isms_domain::audit::LogId;
use isms_domain::compliance::{
    AuditSummary, DEFAULT_TOP_RISKS, REPORT_PERIOD_DAYS, ReportCheckpoint, ReportId, RiskSummary,
    SignedReport, build_report, latest_results,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::PageRequest;
use isms_domain::ports::AuditFilter;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::{Timestamp, now};

use super::{ComplianceService, enabled_only};
use crate::AppError;

const COUNT_BATCH: u32 = 500;

impl ComplianceService {
    pub async fn generate_report(
        &self,
        who: &Principal,
        meta: &RequestMeta,
    ) -> Result<SignedReport, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let tenant = who.tenant_id;
        let at = now();
        let since = at - chrono::Duration::days(REPORT_PERIOD_DAYS);
        let config = self.tenant_config(tenant).await?;
        let results = enabled_only(
            &config,
            latest_results(&self.inner.repo.latest_results(tenant).await?),
        );
        let audit_log = &self.inner.sources.audit_log;
        let log = LogId::tenant(tenant);
        let checkpoint = audit_log.checkpoint_log(&log).await?.checkpoint;
        let verified = audit_log.verify_log(&log).await?;
        let audit_summary = AuditSummary {
            events: self.events_since(&log, since).await?,
            alerts: self.alerts_since(tenant, since).await?,
            integrity_ok: verified.first_failure.is_none(),
            checkpoint: ReportCheckpoint::new(checkpoint.tree_size, &checkpoint.root_hash),
        };
        let risks = match &self.inner.sources.risk {
            Some(source) => source.risks(tenant).await?,
            None => Vec::new(),
        };
        let report = build_report(
            tenant,
            results,
            RiskSummary::from_risks(risks, DEFAULT_TOP_RISKS),
            audit_summary,
            at,
        );
        let signed = audit_log
            .signer()
            .sign_report(&report)
            .map_err(|e| AppError::Internal(format!("signing the report: {e}")))?;
        let event = SecurityEvent::new(K::ReportGenerated, Outcome::Success, meta)
            .tenant(tenant)
            .actor(who.user_id)
            .session(who.session_id)
            .details(serde_json::json!({
                "report_id": report.id.to_string(),
                "score_tenths": report.score.tenths(),
                "overall_status": report.overall_status.as_str(),
            }));
        let repo = self.inner.repo.clone();
        let stored = signed.clone();
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.insert_report(&stored, records).await
            })
            .await?;
        Ok(signed)
    }

    pub async fn report(&self, who: &Principal, id: ReportId) -> Result<SignedReport, AppError> {
        who.require(Permission::ComplianceRead)?;
        Ok(self.inner.repo.report(who.tenant_id, id).await?)
    }

    /// The caller's tenant's name (printed on PDF reports).
    pub async fn tenant_name(&self, who: &Principal) -> Result<String, AppError> {
        Ok(self
            .inner
            .tenants
            .get(who.tenant_id)
            .await?
            .name
            .to_string())
    }

    /// Entries of the tenant log since `since`, counted page by page
    /// (newest first).
    async fn events_since(&self, log: &LogId, since: Timestamp) -> Result<u64, AppError> {
        let repo = self.inner.audit.repo();
        let mut count = 0u64;
        let mut before_seq = None;
        loop {
            let filter = AuditFilter {
                from: Some(since),
                before_seq,
                limit: COUNT_BATCH,
                ..AuditFilter::default()
            };
            let batch = repo.query(log, &filter).await?;
            let page = batch.len().min(COUNT_BATCH as usize);
            count += page as u64;
            if batch.len() <= COUNT_BATCH as usize {
                return Ok(count);
            }
            before_seq = batch.get(page - 1).map(|e| e.seq);
        }
    }

    /// Alerts raised since `since` (the list is newest first).
    async fn alerts_since(&self, tenant: TenantId, since: Timestamp) -> Result<u64, AppError> {
        let alerts = &self.inner.sources.alerts;
        let mut count = 0u64;
        let mut page = PageRequest::first(100);
        loop {
            let batch = alerts.list(tenant, false, page).await?;
            for a in &batch.items {
                if a.created_at < since {
                    return Ok(count);
                }
                count += 1;
            }
            match batch.next_after {
                Some(after) => {
                    page = PageRequest::new(Some(100), Some(after))
                        .map_err(|_| AppError::Internal("alert page".into()))?;
                }
                None => return Ok(count),
            }
        }
    }
}
