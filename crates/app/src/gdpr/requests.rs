//! Data-subject requests (GDPR Art. 12, 15-17, 20) with their deadline.
//! What the server can fulfil itself it does: access and export produce
//! an export asynchronously (`export`), erasure of a user erases the
//! account, rectification of a user corrects it. Requests about people
//! outside the system are tracked for the tenant to handle and close.

use isms_domain::compliance::{
    DataSubject, DataSubjectRequest, DsrId, DsrKind, DsrStatus, Rectification, RequestDraft,
};
use isms_domain::email::Email;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;
use isms_domain::user::User;

use super::GdprService;
use crate::AppError;

/// Whether the server fulfils the request itself (then only rejecting it
/// by hand is possible).
pub(super) fn automated(r: &DataSubjectRequest) -> bool {
    matches!(r.kind, DsrKind::Access | DsrKind::Export) || matches!(r.subject, DataSubject::User(_))
}

pub(super) fn request_event(
    kind: K,
    who: Option<&Principal>,
    meta: &RequestMeta,
    r: &DataSubjectRequest,
) -> SecurityEvent {
    // Ids, kind and status only: an external subject's id stays in the
    // request record.
    let mut e = SecurityEvent::new(kind, Outcome::Success, meta)
        .tenant(r.tenant_id)
        .details(serde_json::json!({
            "resource_type": "data_subject_request",
            "resource_id": r.id.to_string(),
            "kind": r.kind.as_str(),
            "status": r.status.as_str(),
        }));
    if let Some(w) = who {
        e = e.actor(w.user_id).session(w.session_id);
    }
    match r.subject {
        DataSubject::User(u) => e.target(u),
        DataSubject::External(_) => e,
    }
}

impl GdprService {
    async fn deadline_days(&self, tenant: isms_domain::TenantId) -> Result<u32, AppError> {
        Ok(self
            .inner
            .compliance
            .config(tenant)
            .await?
            .unwrap_or_default()
            .thresholds
            .dsr_deadline_days)
    }

    /// Records a request and fulfils what can be fulfilled at once
    /// (erasure and rectification of a user). Erasure needs a step-up;
    /// nobody erases an account with a role above their own, or their own.
    pub async fn create_request(
        &self,
        who: &Principal,
        draft: RequestDraft,
        meta: &RequestMeta,
    ) -> Result<DataSubjectRequest, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let user = match draft.subject {
            DataSubject::User(u) => Some(self.tenant_user(who, u).await?),
            DataSubject::External(_) => None,
        };
        let changes = match (draft.kind, &user, draft.changes) {
            (DsrKind::Rectification, Some(u), Some(c)) => Some(self.corrected(u, c)?),
            (DsrKind::Rectification, Some(_), None) => {
                return Err(AppError::validation(
                    "changes",
                    "required",
                    "rectification of a user names the corrected display_name or email",
                ));
            }
            (_, _, Some(_)) => {
                return Err(AppError::validation(
                    "changes",
                    "not_applicable",
                    "only rectification of a user takes changes",
                ));
            }
            _ => None,
        };
        if let (DsrKind::Erasure, Some(u)) = (draft.kind, &user) {
            if u.id == who.user_id {
                return Err(AppError::validation(
                    "subject.id",
                    "cannot_erase_self",
                    "you cannot erase your own account",
                ));
            }
            if !who.role.can_grant(u.role) {
                return Err(AppError::Forbidden("role_above_own"));
            }
            self.inner.auth.require_step_up(who)?;
        }
        let deadline = self.deadline_days(who.tenant_id).await?;
        let request = DataSubjectRequest::receive(
            who.tenant_id,
            draft.subject,
            draft.kind,
            who.user_id,
            now(),
            deadline,
        )
        .map_err(|e| AppError::validation(e.field, "invalid", e.problem.to_string()))?;
        let repo = self.inner.gdpr.clone();
        let stored = request.clone();
        self.inner
            .audit
            .change(
                vec![request_event(
                    K::DataSubjectRequestCreated,
                    Some(who),
                    meta,
                    &request,
                )],
                async move |records| repo.insert_request(&stored, records).await,
            )
            .await?;
        match (request.kind, user, changes) {
            (DsrKind::Erasure, Some(u), _) => self.fulfil_erasure(who, request, &u, meta).await,
            (DsrKind::Rectification, Some(_), Some(u)) => {
                self.fulfil_rectification(who, request, u, meta).await
            }
            _ => Ok(request),
        }
    }

    /// The account with `c` applied, validated as a user's own edit is.
    fn corrected(&self, user: &User, c: Rectification) -> Result<User, AppError> {
        if c.display_name.is_none() && c.email.is_none() {
            return Err(AppError::validation(
                "changes",
                "required",
                "name the corrected display_name or email",
            ));
        }
        let mut u = user.clone();
        if let Some(name) = c.display_name {
            u.display_name = isms_domain::user::parse_display_name(&name).map_err(|e| {
                AppError::validation("changes.display_name", "invalid_display_name", e)
            })?;
        }
        if let Some(email) = c.email {
            u.email = Email::parse(&email)
                .map_err(|e| AppError::validation("changes.email", "invalid_email", e))?;
        }
        u.updated_at = now();
        Ok(u)
    }

    async fn close(
        &self,
        who: Option<&Principal>,
        mut request: DataSubjectRequest,
        meta: &RequestMeta,
    ) -> Result<DataSubjectRequest, AppError> {
        let from = request.status;
        request
            .complete(now())
            .map_err(|_| AppError::Conflict("request_closed"))?;
        let repo = self.inner.gdpr.clone();
        let stored = request.clone();
        self.inner
            .audit
            .change(
                vec![request_event(
                    K::DataSubjectRequestCompleted,
                    who,
                    meta,
                    &request,
                )],
                async move |records| repo.update_request(&stored, from, records).await,
            )
            .await?;
        Ok(request)
    }

    async fn fulfil_erasure(
        &self,
        who: &Principal,
        request: DataSubjectRequest,
        user: &User,
        meta: &RequestMeta,
    ) -> Result<DataSubjectRequest, AppError> {
        self.erase_user(Some(who), who.tenant_id, user.id, meta)
            .await?;
        let users = self.inner.users.clone();
        let tenant = who.tenant_id;
        let id = user.id;
        self.inner
            .audit
            .change(
                vec![
                    SecurityEvent::new(K::UserDeleted, Outcome::Success, meta)
                        .tenant(tenant)
                        .actor(who.user_id)
                        .session(who.session_id)
                        .target(id)
                        .details(serde_json::json!({ "erased": true })),
                ],
                async move |records| match users.soft_delete(tenant, id, records).await {
                    // Deleted already: erasing it was what remained.
                    Err(isms_domain::ports::RepoError::NotFound) => Ok(()),
                    other => other,
                },
            )
            .await?;
        self.inner.auth.invalidate_user(user.id);
        self.inner.auth.revoke_user_sessions(user, None).await?;
        self.close(Some(who), request, meta).await
    }

    /// Erases an account (live or deleted); `false` when it was erased
    /// already.
    pub(super) async fn erase_user(
        &self,
        who: Option<&Principal>,
        tenant: isms_domain::TenantId,
        user: isms_domain::UserId,
        meta: &RequestMeta,
    ) -> Result<bool, AppError> {
        erase_account(&self.inner.audit, &self.inner.gdpr, who, tenant, user, meta).await
    }

    async fn fulfil_rectification(
        &self,
        who: &Principal,
        request: DataSubjectRequest,
        corrected: User,
        meta: &RequestMeta,
    ) -> Result<DataSubjectRequest, AppError> {
        let users = self.inner.users.clone();
        let stored = corrected.clone();
        let event = SecurityEvent::new(K::UserUpdated, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
            .target(corrected.id)
            .details(serde_json::json!({ "fields": ["rectified"], "request_id": request.id.to_string() }));
        self.inner
            .audit
            .change(vec![event], async move |records| {
                users.update(&stored, records).await
            })
            .await?;
        self.inner.auth.invalidate_user(corrected.id);
        self.close(Some(who), request, meta).await
    }

    pub async fn requests(
        &self,
        who: &Principal,
        page: PageRequest,
    ) -> Result<Page<DataSubjectRequest>, AppError> {
        who.require(Permission::ComplianceRead)?;
        Ok(self.inner.gdpr.requests(who.tenant_id, page).await?)
    }

    pub async fn request(
        &self,
        who: &Principal,
        id: DsrId,
    ) -> Result<DataSubjectRequest, AppError> {
        who.require(Permission::ComplianceRead)?;
        Ok(self.inner.gdpr.request(who.tenant_id, id).await?)
    }

    /// Moves a request by hand: any open one may be rejected (with a
    /// reason); only those the server does not fulfil itself may be
    /// started or completed (409 `request_automated` otherwise).
    pub async fn transition(
        &self,
        who: &Principal,
        id: DsrId,
        to: DsrStatus,
        reason: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<DataSubjectRequest, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let mut request = self.inner.gdpr.request(who.tenant_id, id).await?;
        if to != DsrStatus::Rejected && automated(&request) {
            return Err(AppError::Conflict("request_automated"));
        }
        let from = request.status;
        request.transition(to, now(), reason).map_err(|e| match e {
            isms_domain::compliance::GdprError::Invalid(v) => {
                AppError::validation(v.field, "invalid", v.problem.to_string())
            }
            _ => AppError::Conflict("invalid_transition"),
        })?;
        let kind = match to {
            DsrStatus::Rejected => K::DataSubjectRequestRejected,
            DsrStatus::Completed => K::DataSubjectRequestCompleted,
            _ => K::DataSubjectRequestStarted,
        };
        let repo = self.inner.gdpr.clone();
        let stored = request.clone();
        self.inner
            .audit
            .change(
                vec![request_event(kind, Some(who), meta, &request)],
                async move |records| repo.update_request(&stored, from, records).await,
            )
            .await?;
        Ok(request)
    }
}

/// Erases an account (live or deleted) in one transaction with its
/// `subject_erased` record (actor: `who`, or the server); `false` when it
/// was erased already. The one erasure path: user deletion with erasure,
/// erasure requests and retention all come here.
pub(crate) async fn erase_account(
    audit: &crate::audit::AuditTrail,
    repo: &std::sync::Arc<dyn isms_domain::compliance::GdprRepository>,
    who: Option<&Principal>,
    tenant: isms_domain::TenantId,
    user: isms_domain::UserId,
    meta: &RequestMeta,
) -> Result<bool, AppError> {
    let mut event = SecurityEvent::new(K::SubjectErased, Outcome::Success, meta)
        .tenant(tenant)
        .target(user)
        .details(serde_json::json!({
            "fields": ["email", "display_name", "sessions.ip", "sessions.user_agent"],
            "subject_key": "destroyed",
        }));
    if let Some(w) = who {
        event = event.actor(w.user_id).session(w.session_id);
    }
    audit
        .change(vec![event], async |records| {
            repo.erase_account(tenant, user, now(), records).await
        })
        .await
}
