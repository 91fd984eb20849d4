//! The compliance monitor (ISO 27001 clause 9.1): runs the domain's checks
//! over snapshots read from the live system, stores every result as
//! history with the status and score after it, raises an alert for a
//! failed CRITICAL check, and records access reviews. The rules, the
//! status and the score are the domain's (`isms_domain::compliance`); this
//! service only gathers, calls and stores.

mod inputs;
mod reports;
mod reviews;
mod schedule;
mod soa;

use std::sync::Arc;

use isms_domain::TenantId;
use isms_domain::compliance::rules::evaluate;
use isms_domain::compliance::{
    CheckConfig, CheckId, CheckResult, CheckStatus, CheckSummary, ComplianceRepository,
    ComplianceStatus, JobLeases, ScoreSnapshot, Severity, check_summaries, compliance_status,
    latest_results,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::{Timestamp, now};

pub use inputs::{Sources, Unreadable, column_counts};
pub use reviews::ReviewRequest;
pub use schedule::{LEASE_NAME, LEASE_TTL};

use crate::AppError;
use crate::audit::AuditTrail;

#[derive(Clone)]
pub struct ComplianceService {
    inner: Arc<Inner>,
}

struct Inner {
    repo: Arc<dyn ComplianceRepository>,
    leases: Arc<dyn JobLeases>,
    sources: Sources,
    audit: AuditTrail,
    tenants: Arc<dyn isms_domain::ports::TenantRepository>,
    /// This instance's name on the job leases it takes.
    holder: String,
}

/// Who started a run: a caller (`POST /compliance/run`) or the scheduler.
enum Trigger<'a> {
    Caller(&'a Principal, &'a RequestMeta),
    Schedule,
}

impl ComplianceService {
    pub fn new(
        repo: Arc<dyn ComplianceRepository>,
        leases: Arc<dyn JobLeases>,
        tenants: Arc<dyn isms_domain::ports::TenantRepository>,
        sources: Sources,
        audit: AuditTrail,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                repo,
                leases,
                sources,
                audit,
                tenants,
                holder: uuid::Uuid::now_v7().to_string(),
            }),
        }
    }

    /// The same service with the risk register as `risk_review`'s source.
    pub fn with_risk_source(
        self,
        risk: Arc<dyn isms_domain::compliance::RiskReviewSource>,
    ) -> Self {
        self.rebuilt(|s| s.risk = Some(risk))
    }

    /// The same service with the GDPR records as `gdpr_compliance`'s source.
    pub fn with_gdpr_source(self, gdpr: Arc<dyn isms_domain::compliance::GdprSource>) -> Self {
        self.rebuilt(|s| s.gdpr = Some(gdpr))
    }

    fn rebuilt(self, change: impl FnOnce(&mut Sources)) -> Self {
        let i = &self.inner;
        let mut sources = i.sources.clone();
        change(&mut sources);
        Self {
            inner: Arc::new(Inner {
                repo: i.repo.clone(),
                leases: i.leases.clone(),
                sources,
                audit: i.audit.clone(),
                tenants: i.tenants.clone(),
                holder: i.holder.clone(),
            }),
        }
    }

    /// The tenant's configuration (the defaults when it never set one).
    pub async fn tenant_config(&self, tenant: TenantId) -> Result<CheckConfig, AppError> {
        Ok(self.inner.repo.config(tenant).await?.unwrap_or_default())
    }

    pub async fn config(&self, who: &Principal) -> Result<CheckConfig, AppError> {
        who.require(Permission::TenantAdmin)?;
        self.tenant_config(who.tenant_id).await
    }

    /// Replaces the tenant's configuration (validated first).
    pub async fn put_config(
        &self,
        who: &Principal,
        config: CheckConfig,
        meta: &RequestMeta,
    ) -> Result<CheckConfig, AppError> {
        who.require(Permission::TenantAdmin)?;
        config
            .validate()
            .map_err(|e| AppError::validation(e.field, "invalid", e.problem.to_string()))?;
        let event = SecurityEvent::new(K::ComplianceConfigChanged, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id);
        let repo = self.inner.repo.clone();
        let tenant = who.tenant_id;
        let stored = config.clone();
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.put_config(tenant, &stored, now(), records).await
            })
            .await?;
        Ok(config)
    }

    /// Every check with the tenant's settings and its latest result.
    pub async fn checks(&self, who: &Principal) -> Result<Vec<CheckSummary>, AppError> {
        who.require(Permission::ComplianceRead)?;
        let config = self.tenant_config(who.tenant_id).await?;
        let latest = self.inner.repo.latest_results(who.tenant_id).await?;
        Ok(check_summaries(&config, &latest, now()))
    }

    /// The overall status over the latest result of each enabled check;
    /// `ran_at` is when the newest of them ran (`None`: nothing ran yet).
    pub async fn status(
        &self,
        who: &Principal,
    ) -> Result<(ComplianceStatus, Option<Timestamp>), AppError> {
        who.require(Permission::ComplianceRead)?;
        let config = self.tenant_config(who.tenant_id).await?;
        let latest = self.inner.repo.latest_results(who.tenant_id).await?;
        let current = enabled_only(&config, latest);
        let ran_at = current.iter().map(|r| r.ran_at).max();
        Ok((
            compliance_status(&current, ran_at.unwrap_or_else(now)),
            ran_at,
        ))
    }

    /// The score after each run, oldest first.
    pub async fn history(
        &self,
        who: &Principal,
        page: PageRequest,
    ) -> Result<Page<ScoreSnapshot>, AppError> {
        who.require(Permission::ComplianceRead)?;
        Ok(self.inner.repo.history(who.tenant_id, page).await?)
    }

    /// Runs every enabled check of the caller's tenant now.
    pub async fn run_now(
        &self,
        who: &Principal,
        meta: &RequestMeta,
    ) -> Result<ComplianceStatus, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let config = self.tenant_config(who.tenant_id).await?;
        let checks: Vec<CheckId> = config.checks.enabled().collect();
        self.run(who.tenant_id, &config, &checks, Trigger::Caller(who, meta))
            .await
    }

    /// Runs `checks` for `tenant`: a check whose input cannot be read is an
    /// `ERROR` result, never an aborted run. Stores the results, the status
    /// after them and the audit records (one `compliance_run`, and a
    /// `compliance_check_failed` per failed CRITICAL check, which raises
    /// an alert) in one transaction.
    async fn run(
        &self,
        tenant: TenantId,
        config: &CheckConfig,
        checks: &[CheckId],
        trigger: Trigger<'_>,
    ) -> Result<ComplianceStatus, AppError> {
        let at = now();
        let mut results = Vec::with_capacity(checks.len());
        for &check in checks {
            let result = match self.inner.sources.input(check, tenant, config, at).await {
                Ok(input) => evaluate(&input, config, at),
                Err(e) => CheckResult::error(check, config, &e.to_string(), at),
            };
            results.push(result);
        }
        let previous = self.inner.repo.latest_results(tenant).await?;
        let current = enabled_only(config, latest_results(previous.iter().chain(&results)));
        let status = compliance_status(&current, at);
        let snapshot = ScoreSnapshot {
            id: uuid::Uuid::now_v7(),
            overall_status: status.overall_status,
            score: status.score,
            critical_issues: count(status.critical_issues.len()),
            warnings: count(status.warnings.len()),
            ran_at: at,
        };
        let events = run_events(tenant, &results, &status, trigger);
        let repo = self.inner.repo.clone();
        self.inner
            .audit
            .change(events, async move |records| {
                repo.record_run(tenant, &results, &snapshot, records).await
            })
            .await?;
        Ok(status)
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Results of disabled checks do not count (their last result stays in
/// the history).
fn enabled_only(config: &CheckConfig, results: Vec<CheckResult>) -> Vec<CheckResult> {
    results
        .into_iter()
        .filter(|r| config.settings(r.check).enabled)
        .collect()
}

fn run_events(
    tenant: TenantId,
    results: &[CheckResult],
    status: &ComplianceStatus,
    trigger: Trigger<'_>,
) -> Vec<SecurityEvent> {
    let default_meta = RequestMeta::default();
    let (meta, who) = match trigger {
        Trigger::Caller(who, meta) => (meta, Some(who)),
        Trigger::Schedule => (&default_meta, None),
    };
    let with_caller = |e: SecurityEvent| match who {
        Some(w) => e.actor(w.user_id).session(w.session_id),
        None => e,
    };
    let mut events = vec![with_caller(
        SecurityEvent::new(K::ComplianceRun, Outcome::Success, meta)
            .tenant(tenant)
            .details(serde_json::json!({
                "trigger": if who.is_some() { "manual" } else { "schedule" },
                "checks": results.iter().map(|r| r.check.as_str()).collect::<Vec<_>>(),
                "overall_status": status.overall_status.as_str(),
                "score_tenths": status.score.tenths(),
            })),
    )];
    for r in results
        .iter()
        .filter(|r| r.severity == Severity::Critical && r.status == CheckStatus::Failed)
    {
        events.push(with_caller(
            SecurityEvent::new(K::ComplianceCheckFailed, Outcome::Failure, meta)
                .tenant(tenant)
                .details(serde_json::json!({
                    "check": r.check.as_str(),
                    "severity": r.severity.as_str(),
                    "status": r.status.as_str(),
                    "result": r.details,
                })),
        ));
    }
    events
}
