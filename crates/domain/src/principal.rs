//! The authenticated caller, as every service sees it.

use crate::ids::{SessionId, TenantId, UserId};
use crate::rbac::{Permission, allows};
use crate::role::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// The user's current role (read from the account, not the token, so
    /// a role change takes effect at once).
    pub role: Role,
    pub session_id: SessionId,
    /// The account holds a generated password it must replace first.
    pub password_must_change: bool,
    /// The user has an active second factor.
    pub mfa_enrolled: bool,
    /// When this session last verified the second factor.
    pub mfa_verified_at: Option<crate::time::Timestamp>,
    /// The tenant's policy requires MFA for this user's role.
    pub mfa_required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("permission {0} is required")]
pub struct Denied(pub Permission);

impl Principal {
    pub fn can(&self, permission: Permission) -> bool {
        allows(self.role, permission)
    }

    /// Sensitive actions need a second factor verified within `window`.
    pub fn require_step_up(
        &self,
        now: crate::time::Timestamp,
        window: std::time::Duration,
    ) -> Result<(), crate::mfa::StepUpDenied> {
        crate::mfa::check_step_up(self.mfa_enrolled, self.mfa_verified_at, now, window)
    }

    /// Whether the tenant's MFA policy blocks this caller until it enrols.
    pub fn must_enrol_mfa(&self) -> bool {
        self.mfa_required && !self.mfa_enrolled
    }

    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(Denied(permission))
        }
    }
}
