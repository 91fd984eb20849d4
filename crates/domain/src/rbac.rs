//! Role-based access control with permissions as the unit. Roles are named
//! permission sets: `admin ⊇ manager ⊇ analyst ⊇ viewer`, and `auditor` is
//! viewer plus read access to audit, compliance and confidential data, with
//! no writes. Every route names the permission it needs; the table below is
//! the single place that says who holds it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::role::Role;

macro_rules! permissions {
    ($($variant:ident => $name:literal : $doc:literal),+ $(,)?) => {
        /// A permission a route or service operation requires.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Permission {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)+
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)+
                }
            }
        }
    };
}

permissions! {
    UsersReadSelf => "users:read_self": "Read one's own account and sessions.",
    UsersRead => "users:read": "List and read the tenant's users.",
    UsersWrite => "users:write": "Create users, change roles and deactivate or delete accounts.",
    SessionsRevokeAny => "sessions:revoke_any": "Revoke any session in the tenant.",
    AssetsRead => "assets:read": "Read assets, threats, vulnerabilities and risks.",
    AssetsWrite => "assets:write": "Change assets, threats, vulnerabilities and exposures; run assessments.",
    RisksApproveHigh => "risks:approve_high": "Approve treatment of HIGH risks.",
    RisksApproveCritical => "risks:approve_critical": "Approve treatment of CRITICAL risks.",
    AuditRead => "audit:read": "Read and verify the audit log.",
    AlertsRead => "alerts:read": "Read security alerts and their webhook deliveries.",
    AlertsAcknowledge => "alerts:ack": "Acknowledge security alerts.",
    ComplianceRead => "compliance:read": "Read compliance results, reports and the SoA.",
    ComplianceWrite => "compliance:write": "Run compliance checks and change the SoA.",
    DataReadInternal => "data:read_internal": "Decrypt public and internal data.",
    DataReadConfidential => "data:read_confidential": "Decrypt confidential data.",
    DataReadRestricted => "data:read_restricted": "Decrypt restricted data.",
    KeysRead => "keys:read": "List key metadata (never key material).",
    KeysRotate => "keys:rotate": "Rotate and rewrap keys.",
    TenantAdmin => "tenant:admin": "Change tenant-wide policy.",
    HealthReadDetailed => "health:read_detailed": "Read detailed health: components, limiter backend, uptime.",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission")]
pub struct UnknownPermission;

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownPermission)
    }
}

use Permission as P;

const VIEWER: &[Permission] = &[P::UsersReadSelf, P::AssetsRead, P::DataReadInternal];
const ANALYST_EXTRA: &[Permission] = &[P::AssetsWrite];
const MANAGER_EXTRA: &[Permission] = &[
    P::UsersRead,
    P::RisksApproveHigh,
    P::ComplianceRead,
    P::ComplianceWrite,
    P::DataReadConfidential,
    P::AlertsRead,
    P::AlertsAcknowledge,
];
const AUDITOR_EXTRA: &[Permission] = &[
    P::UsersRead,
    P::AuditRead,
    P::AlertsRead,
    P::ComplianceRead,
    P::DataReadConfidential,
    P::KeysRead,
    P::HealthReadDetailed,
];
const ADMIN_EXTRA: &[Permission] = &[
    P::UsersWrite,
    P::SessionsRevokeAny,
    P::RisksApproveCritical,
    P::AuditRead,
    P::DataReadRestricted,
    P::KeysRead,
    P::KeysRotate,
    P::TenantAdmin,
    P::HealthReadDetailed,
];

/// The permission sets each role's grant is built from, from the bottom of
/// the hierarchy up.
fn layers(role: Role) -> &'static [&'static [Permission]] {
    match role {
        Role::Viewer => &[VIEWER],
        Role::Analyst => &[VIEWER, ANALYST_EXTRA],
        Role::Manager => &[VIEWER, ANALYST_EXTRA, MANAGER_EXTRA],
        Role::Admin => &[VIEWER, ANALYST_EXTRA, MANAGER_EXTRA, ADMIN_EXTRA],
        Role::Auditor => &[VIEWER, AUDITOR_EXTRA],
    }
}

/// Whether `role` holds `permission`.
pub fn allows(role: Role, permission: Permission) -> bool {
    layers(role).iter().any(|layer| layer.contains(&permission))
}

/// Every permission `role` holds, sorted.
pub fn permissions_of(role: Role) -> Vec<Permission> {
    let mut out: Vec<Permission> = Permission::ALL
        .iter()
        .copied()
        .filter(|p| allows(role, *p))
        .collect();
    out.sort();
    out
}

/// Permissions that change state; the auditor role must hold none.
pub fn is_write(permission: Permission) -> bool {
    matches!(
        permission,
        P::UsersWrite
            | P::SessionsRevokeAny
            | P::AssetsWrite
            | P::RisksApproveHigh
            | P::RisksApproveCritical
            | P::ComplianceWrite
            | P::KeysRotate
            | P::TenantAdmin
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(role: Role) -> std::collections::BTreeSet<Permission> {
        permissions_of(role).into_iter().collect()
    }

    #[test]
    fn hierarchy_is_nested() {
        assert!(set(Role::Viewer).is_subset(&set(Role::Analyst)));
        assert!(set(Role::Analyst).is_subset(&set(Role::Manager)));
        assert!(set(Role::Manager).is_subset(&set(Role::Admin)));
        assert!(set(Role::Viewer).is_subset(&set(Role::Auditor)));
        assert!(
            set(Role::Admin).len() == Permission::ALL.len(),
            "admin holds everything"
        );
    }

    #[test]
    fn auditor_reads_but_never_writes() {
        for p in permissions_of(Role::Auditor) {
            assert!(!is_write(p), "auditor must not hold {p}");
        }
        assert!(allows(Role::Auditor, P::AuditRead));
        assert!(allows(Role::Auditor, P::DataReadConfidential));
        assert!(!allows(Role::Auditor, P::DataReadRestricted));
        assert!(!allows(Role::Manager, P::AuditRead));
    }

    #[test]
    fn least_privilege_spot_checks() {
        assert!(!allows(Role::Viewer, P::UsersRead));
        assert!(allows(Role::Manager, P::UsersRead));
        assert!(!allows(Role::Manager, P::UsersWrite));
        assert!(!allows(Role::Analyst, P::DataReadConfidential));
        assert!(allows(Role::Admin, P::KeysRotate));
    }

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), *p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }
}
