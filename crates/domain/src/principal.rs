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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("permission {0} is required")]
pub struct Denied(pub Permission);

impl Principal {
    pub fn can(&self, permission: Permission) -> bool {
        allows(self.role, permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(Denied(permission))
        }
    }
}
