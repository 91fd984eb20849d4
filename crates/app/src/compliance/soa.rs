//! The Statement of Applicability (ISO 27001 clause 6.1.3 d): the domain
//! builds the 93 entries from the tenant's stored decisions and the
//! evidence map; this service reads and changes the decisions. Evidence
//! is the checks and built-in features plus the risk treatments that plan
//! the control.

use isms_domain::compliance::{SoaEntry, SoaPatch, TreatmentLink, build_soa};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::RepoError;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use super::ComplianceService;
use crate::AppError;

impl ComplianceService {
    async fn treatment_links(
        &self,
        tenant: isms_domain::TenantId,
    ) -> Result<Vec<TreatmentLink>, AppError> {
        match &self.inner.sources.risk {
            Some(risk) => Ok(risk.treatment_links(tenant).await?),
            None => Ok(Vec::new()),
        }
    }

    /// All 93 entries, in catalogue order.
    pub async fn soa(&self, who: &Principal) -> Result<Vec<SoaEntry>, AppError> {
        who.require(Permission::ComplianceRead)?;
        let decisions = self.inner.repo.soa_decisions(who.tenant_id).await?;
        let links = self.treatment_links(who.tenant_id).await?;
        Ok(build_soa(&decisions, &links))
    }

    /// Changes one control's decision; the owner must be a user of the
    /// tenant.
    pub async fn patch_soa(
        &self,
        who: &Principal,
        control_id: &str,
        patch: SoaPatch,
        meta: &RequestMeta,
    ) -> Result<SoaEntry, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let tenant = who.tenant_id;
        let decisions = self.inner.repo.soa_decisions(tenant).await?;
        let links = self.treatment_links(tenant).await?;
        let mut entry = build_soa(&decisions, &links)
            .into_iter()
            .find(|e| e.control_id == control_id)
            .ok_or(AppError::NotFound)?;
        if let Some(Some(owner)) = patch.owner {
            match self.inner.sources.users.get(tenant, owner).await {
                Ok(_) => {}
                Err(RepoError::NotFound) => {
                    return Err(AppError::validation(
                        "owner",
                        "unknown_user",
                        "the owner must be a user of this tenant",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        entry
            .apply(&patch)
            .map_err(|e| AppError::validation(e.field, "invalid", e.problem.to_string()))?;
        let decision = entry.decision();
        let event = SecurityEvent::new(K::SoaUpdated, Outcome::Success, meta)
            .tenant(tenant)
            .actor(who.user_id)
            .session(who.session_id)
            .details(serde_json::json!({
                "control_id": decision.control_id,
                "applicable": decision.applicable,
                "status": decision.status.as_str(),
            }));
        let repo = self.inner.repo.clone();
        let stored = decision.clone();
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.put_soa_decision(tenant, &stored, now(), records).await
            })
            .await?;
        Ok(entry)
    }
}
