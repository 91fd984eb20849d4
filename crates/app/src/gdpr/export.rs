//! Exports of access and portability requests (Art. 15, 20): produced by
//! a background job (any instance; a request is claimed by moving it to
//! `in_progress`), sealed at rest, downloadable once with a step-up by
//! the requester or an admin, each download a `data_export` audit record.

use chrono::Duration;
use isms_domain::audit::{AuditEntry, LogId};
use isms_domain::compliance::{DataSubject, DataSubjectRequest, DsrId, DsrStatus};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::{AuditFilter, RepoError};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::{Timestamp, now};
use isms_domain::user::User;
use serde_json::{Value, json};

use super::GdprService;
use super::requests::request_event;
use crate::AppError;

/// How long a produced export waits for its download.
pub const EXPORT_TTL: Duration = Duration::days(7);
/// An export left `in_progress` this long was abandoned by its instance.
const STALE_CLAIM: Duration = Duration::minutes(10);
/// Audit entries read per page when collecting a subject's trail.
const AUDIT_PAGE: u32 = 1000;
/// The wire format of an export, versioned for the clients that read it.
pub const EXPORT_FORMAT: &str = "isms.subject-export.v1";

fn entry_json(e: &AuditEntry, role: &str) -> Value {
    let r = &e.record;
    json!({
        "seq": e.seq,
        "id": e.id.to_string(),
        "timestamp": e.timestamp,
        "event_type": r.event_type,
        "action": r.action,
        "outcome": r.outcome.as_str(),
        "resource_type": r.resource_type,
        "resource_id": r.resource_id,
        "ip": r.ip,
        "user_agent": r.user_agent,
        "subject_role": role,
    })
}

fn account_json(u: &User) -> Value {
    json!({
        "id": u.id.to_string(),
        "email": u.email.as_str(),
        "display_name": u.display_name,
        "role": u.role.as_str(),
        "is_active": u.is_active,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
        "last_login_at": u.last_login_at,
        "password_changed_at": u.password_changed_at,
        "last_access_review_at": u.last_access_review_at,
    })
}

impl GdprService {
    /// Every audit entry of the tenant's log with `filter`, newest first.
    async fn audit_entries(
        &self,
        tenant: isms_domain::TenantId,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, RepoError> {
        let log = LogId::tenant(tenant);
        let repo = self.inner.audit.repo();
        filter.limit = AUDIT_PAGE;
        let mut out = Vec::new();
        loop {
            let mut page = repo.query(&log, &filter).await?;
            let more = page.len() > AUDIT_PAGE as usize;
            page.truncate(AUDIT_PAGE as usize);
            filter.before_seq = page.last().map(|e| e.seq);
            out.extend(page);
            if !more {
                return Ok(out);
            }
        }
    }

    /// Everything the server holds on the request's subject.
    async fn build_export(&self, r: &DataSubjectRequest, at: Timestamp) -> Result<Value, AppError> {
        let tenant = r.tenant_id;
        let records = self.inner.gdpr.subject_records(tenant, &r.subject).await?;
        let (account, audit) = match &r.subject {
            DataSubject::User(u) => {
                let account = match self.inner.users.get(tenant, *u).await {
                    Ok(user) => Some(account_json(&user)),
                    Err(RepoError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                };
                let as_actor = self
                    .audit_entries(
                        tenant,
                        AuditFilter {
                            actor_user_id: Some(*u),
                            ..AuditFilter::default()
                        },
                    )
                    .await?;
                let as_subject = self
                    .audit_entries(
                        tenant,
                        AuditFilter {
                            resource_type: Some("user".into()),
                            resource_id: Some(u.to_string()),
                            ..AuditFilter::default()
                        },
                    )
                    .await?;
                let mut audit: Vec<Value> =
                    as_actor.iter().map(|e| entry_json(e, "actor")).collect();
                audit.extend(
                    as_subject
                        .iter()
                        .filter(|e| e.record.actor_user_id != Some(*u))
                        .map(|e| entry_json(e, "subject")),
                );
                (account, audit)
            }
            DataSubject::External(_) => (None, Vec::new()),
        };
        Ok(json!({
            "format": EXPORT_FORMAT,
            "generated_at": at,
            "request_id": r.id.to_string(),
            "tenant_id": tenant.to_string(),
            "subject": r.subject,
            "account": account,
            "sessions": records.sessions,
            "consents": records.consents,
            "data_subject_requests": records.requests,
            "access_reviews": records.access_reviews,
            "owned_assets": records.owned_assets,
            "audit_events": audit,
        }))
    }

    /// Produces the exports of up to `limit` queued requests; returns how
    /// many were completed. A request another instance claimed first is
    /// skipped.
    pub async fn process_queued_exports(&self, limit: u32) -> Result<usize, AppError> {
        let at = now();
        let queued = self
            .inner
            .gdpr
            .queued_exports(at - STALE_CLAIM, limit)
            .await?;
        let mut done = 0;
        for r in queued {
            match self.produce(r).await {
                Ok(()) => done += 1,
                Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    async fn produce(&self, mut r: DataSubjectRequest) -> Result<(), AppError> {
        let meta = RequestMeta::default();
        if r.status == DsrStatus::Received {
            let from = r.status;
            r.start(now())
                .map_err(|_| AppError::Conflict("request_closed"))?;
            let repo = self.inner.gdpr.clone();
            let stored = r.clone();
            self.inner
                .audit
                .change(
                    vec![request_event(K::DataSubjectRequestStarted, None, &meta, &r)],
                    async move |records| repo.update_request(&stored, from, records).await,
                )
                .await?;
        }
        let at = now();
        let export = self.build_export(&r, at).await?;
        let bytes = serde_json::to_vec(&export)
            .map_err(|e| AppError::Internal(format!("export encoding: {e}")))?;
        let from = r.status;
        // Bump the claim so the conditional update sees this instance's
        // view; a concurrent completion makes it fail with a conflict.
        r.complete(at)
            .map_err(|_| AppError::Conflict("request_closed"))?;
        let repo = self.inner.gdpr.clone();
        let stored = r.clone();
        let event = request_event(K::DataSubjectRequestCompleted, None, &meta, &r);
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.complete_export(&stored, from, &bytes, at + EXPORT_TTL, records)
                    .await
            })
            .await
    }

    /// The export of request `id`, once, to its requester or an admin,
    /// after a step-up: 410 `export_downloaded` the second time,
    /// `export_expired` after `EXPORT_TTL`, 409 `export_not_ready` while
    /// it is being produced.
    pub async fn download_export(
        &self,
        who: &Principal,
        id: DsrId,
        meta: &RequestMeta,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, AppError> {
        who.require(Permission::ComplianceWrite)?;
        let request = self.inner.gdpr.request(who.tenant_id, id).await?;
        if request.requested_by != who.user_id && !who.can(Permission::TenantAdmin) {
            return Err(AppError::Forbidden("not_requester"));
        }
        self.inner.auth.require_step_up(who)?;
        let mut event = SecurityEvent::new(K::DataExport, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
            .details(json!({
                "resource_type": "data_subject_request",
                "resource_id": request.id.to_string(),
                "kind": request.kind.as_str(),
            }));
        if let DataSubject::User(u) = request.subject {
            event = event.target(u);
        }
        let repo = self.inner.gdpr.clone();
        let tenant = who.tenant_id;
        let taken = self
            .inner
            .audit
            .change(vec![event], async move |records| {
                repo.take_export(tenant, id, now(), records).await
            })
            .await;
        match taken {
            Err(AppError::NotFound) if request.is_open() => {
                Err(AppError::Conflict("export_not_ready"))
            }
            Err(AppError::Conflict(
                c @ (isms_domain::compliance::EXPORT_DOWNLOADED
                | isms_domain::compliance::EXPORT_EXPIRED),
            )) => Err(AppError::Gone(c)),
            other => other,
        }
    }
}
