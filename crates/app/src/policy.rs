//! The tenant's contextual access policy: per-role source networks and
//! hours, and which roles must use MFA.

use std::sync::Arc;

use isms_domain::access_policy::AccessPolicy;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::TenantPolicyRepository;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use crate::AppError;
use crate::audit::AuditTrail;
use crate::auth::AuthService;

#[derive(Clone)]
pub struct PolicyService {
    repo: Arc<dyn TenantPolicyRepository>,
    auth: AuthService,
    audit: AuditTrail,
}

impl PolicyService {
    pub fn new(
        repo: Arc<dyn TenantPolicyRepository>,
        auth: AuthService,
        audit: AuditTrail,
    ) -> Self {
        Self { repo, auth, audit }
    }

    pub async fn get(&self, who: &Principal) -> Result<AccessPolicy, AppError> {
        who.require(Permission::TenantAdmin)?;
        Ok(self
            .repo
            .access_policy(who.tenant_id)
            .await?
            .unwrap_or_default())
    }

    /// Replaces the policy (a sensitive action). A policy that would shut
    /// out the very request setting it is refused, so an admin cannot lock
    /// the tenant out by mistake.
    pub async fn put(
        &self,
        who: &Principal,
        policy: AccessPolicy,
        meta: &RequestMeta,
    ) -> Result<AccessPolicy, AppError> {
        who.require(Permission::TenantAdmin)?;
        self.auth.require_step_up(who)?;
        policy.validate().map_err(|e| AppError::Validation {
            field: "policy",
            code: "invalid_policy",
            message: e.to_string(),
        })?;
        let ip = meta.ip.as_deref().and_then(|ip| ip.parse().ok());
        if let Err(c) = policy.check(who.role, ip, now()) {
            return Err(AppError::validation(
                "roles",
                "would_lock_out_caller",
                format!("this policy would deny your own request ({})", c.as_str()),
            ));
        }
        if policy.requires_mfa(who.role) && !who.mfa_enrolled {
            return Err(AppError::validation(
                "mfa_required_roles",
                "would_lock_out_caller",
                "enrol MFA yourself before requiring it for your role",
            ));
        }
        let before = self
            .repo
            .access_policy(who.tenant_id)
            .await?
            .unwrap_or_default();
        let event = SecurityEvent::new(K::AccessPolicyChanged, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
            .details(serde_json::json!({ "before": before, "after": policy }));
        let repo = &self.repo;
        self.audit
            .change(vec![event], async |audit| {
                repo.put_access_policy(who.tenant_id, &policy, now(), audit)
                    .await
            })
            .await?;
        self.auth.invalidate_policy(who.tenant_id);
        Ok(policy)
    }
}
