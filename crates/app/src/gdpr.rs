//! GDPR records (Annex A 5.34): consents and the other lawful bases of
//! Art. 6(1), recorded and withdrawn with their audit records. A subject
//! that is a user must be one of the caller's tenant.

use std::sync::Arc;

use isms_domain::compliance::{Consent, ConsentDraft, ConsentId, ConsentRepository, DataSubject};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::ports::{RepoError, UserRepository};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use crate::AppError;
use crate::audit::AuditTrail;

#[derive(Clone)]
pub struct GdprService {
    consents: Arc<dyn ConsentRepository>,
    users: Arc<dyn UserRepository>,
    audit: AuditTrail,
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
    pub fn new(
        consents: Arc<dyn ConsentRepository>,
        users: Arc<dyn UserRepository>,
        audit: AuditTrail,
    ) -> Self {
        Self {
            consents,
            users,
            audit,
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
            match self.users.get(who.tenant_id, u).await {
                Ok(_) => {}
                Err(RepoError::NotFound) => {
                    return Err(AppError::validation(
                        "subject.id",
                        "unknown_user",
                        "the subject must be a user of this tenant",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let consent = Consent::record(who.tenant_id, draft, now())
            .map_err(|e| AppError::validation(e.field, "invalid", e.problem.to_string()))?;
        let repo = self.consents.clone();
        let stored = consent.clone();
        self.audit
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
        Ok(self.consents.consents(who.tenant_id, page).await?)
    }

    /// Withdraws once (409 `conflict` the second time).
    pub async fn withdraw_consent(
        &self,
        who: &Principal,
        id: ConsentId,
        meta: &RequestMeta,
    ) -> Result<Consent, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let mut consent = self.consents.consent(who.tenant_id, id).await?;
        consent
            .withdraw(now())
            .map_err(|_| AppError::Conflict("consent_withdrawn"))?;
        let at = consent.withdrawn_at.unwrap_or_else(now);
        let repo = self.consents.clone();
        let tenant = who.tenant_id;
        self.audit
            .change(
                vec![event(K::ConsentWithdrawn, who, meta, &consent)],
                async move |records| repo.withdraw_consent(tenant, id, at, records).await,
            )
            .await?;
        Ok(consent)
    }
}
