//! GDPR records (Annex A 5.34): consents and the other lawful bases of
//! Art. 6(1), recorded and withdrawn with their audit records; retention
//! (`retention`); data-subject requests and their exports (`requests`,
//! `export`); and the input of `gdpr_compliance` (`source`). A subject
//! that is a user must be one of the caller's tenant.

mod export;
mod requests;
mod retention;
mod source;

use std::sync::Arc;

use isms_domain::compliance::{
    ComplianceRepository, Consent, ConsentDraft, ConsentId, ConsentRepository, DataSubject,
    GdprRepository, JobLeases,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::ports::TenantRepository;
use isms_domain::ports::{RepoError, UserRepository};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use crate::AppError;
use crate::audit::AuditTrail;

pub(crate) use requests::erase_account;
pub use source::GdprRecords;

/// What the GDPR service reads and writes.
pub struct GdprDeps {
    pub consents: Arc<dyn ConsentRepository>,
    pub gdpr: Arc<dyn GdprRepository>,
    pub users: Arc<dyn UserRepository>,
    /// For the tenant's deadlines (`Thresholds::dsr_deadline_days`).
    pub compliance: Arc<dyn ComplianceRepository>,
    pub tenants: Arc<dyn TenantRepository>,
    pub leases: Arc<dyn JobLeases>,
    pub auth: crate::auth::AuthService,
    pub audit: AuditTrail,
}

#[derive(Clone)]
pub struct GdprService {
    inner: Arc<GdprDeps>,
    /// This instance, as the holder of job leases.
    holder: Arc<str>,
}

fn event(kind: K, who: &Principal, meta: &RequestMeta, c: &Consent) -> SecurityEvent {
    // Ids and the basis only: purpose and evidence stay in the record.
    let e = SecurityEvent::new(kind, Outcome::Success, meta)
        .tenant(who.tenant_id)
        .actor(who.user_id)
        .session(who.session_id)
        .details(serde_json::json!({
            "consent_id": c.id.to_string(),
            "lawful_basis": c.lawful_basis.as_str(),
        }));
    match c.subject {
        DataSubject::User(u) => e.target(u),
        DataSubject::External(_) => e,
    }
}

impl GdprService {
    pub fn new(deps: GdprDeps) -> Self {
        Self {
            inner: Arc::new(deps),
            holder: uuid::Uuid::now_v7().to_string().into(),
        }
    }

    /// The user `id` of the caller's tenant, or a 422 on `field`.
    async fn tenant_user(
        &self,
        who: &Principal,
        id: isms_domain::UserId,
    ) -> Result<isms_domain::user::User, AppError> {
        match self.inner.users.get(who.tenant_id, id).await {
            Ok(u) => Ok(u),
            Err(RepoError::NotFound) => Err(AppError::validation(
                "subject.id",
                "unknown_user",
                "the subject must be a user of this tenant",
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn record_consent(
        &self,
        who: &Principal,
        draft: ConsentDraft,
        meta: &RequestMeta,
    ) -> Result<Consent, AppError> {
        who.require(Permission::ComplianceWrite)?;
        if let DataSubject::User(u) = draft.subject {
            self.tenant_user(who, u).await?;
        }
        let consent = Consent::record(who.tenant_id, draft, now())
            .map_err(|e| AppError::validation(e.field, "invalid", e.problem.to_string()))?;
        let repo = self.inner.consents.clone();
        let stored = consent.clone();
        self.inner
            .audit
            .change(
                vec![event(K::ConsentRecorded, who, meta, &consent)],
                async move |records| repo.insert_consent(&stored, records).await,
            )
            .await?;
        Ok(consent)
    }

    pub async fn consents(
        &self,
        who: &Principal,
        page: PageRequest,
    ) -> Result<Page<Consent>, AppError> {
        who.require(Permission::ComplianceRead)?;
        Ok(self.inner.consents.consents(who.tenant_id, page).await?)
    }

    /// Withdraws once (409 `conflict` the second time).
    pub async fn withdraw_consent(
        &self,
        who: &Principal,
        id: ConsentId,
        meta: &RequestMeta,
    ) -> Result<Consent, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let mut consent = self.inner.consents.consent(who.tenant_id, id).await?;
        consent
            .withdraw(now())
            .map_err(|_| AppError::Conflict("consent_withdrawn"))?;
        let at = consent.withdrawn_at.unwrap_or_else(now);
        let repo = self.inner.consents.clone();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(
                vec![event(K::ConsentWithdrawn, who, meta, &consent)],
                async move |records| repo.withdraw_consent(tenant, id, at, records).await,
            )
            .await?;
        Ok(consent)
    }
}
