//! Roles. `admin > manager > analyst > viewer` form a hierarchy; `auditor`
//! stands beside it (read access to audit and compliance data, no writes),
//! so it has no rank in the chain and is compared explicitly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `Ord` is declaration order; it serves sorted collections keyed by
/// role, not authority (see `can_grant` for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Analyst,
    Auditor,
    Viewer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected one of admin, manager, analyst, auditor, viewer)")]
pub struct UnknownRole;

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Manager,
        Role::Analyst,
        Role::Auditor,
        Role::Viewer,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
        }
    }

    /// Whether a holder of `self` may grant `other` to someone: never a role
    /// above one's own. The auditor role sits outside the chain and can be
    /// granted only by admins.
    pub fn can_grant(self, other: Role) -> bool {
        match (self, other) {
            (Role::Admin, _) => true,
            (_, Role::Admin) | (_, Role::Auditor) => false,
            (Role::Auditor, _) => false,
            (granter, grantee) => granter.chain_rank() >= grantee.chain_rank(),
        }
    }

    fn chain_rank(self) -> u8 {
        match self {
            Role::Admin => 4,
            Role::Manager => 3,
            Role::Analyst => 2,
            Role::Viewer | Role::Auditor => 1,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn nobody_grants_above_own_role() {
        assert!(Role::Admin.can_grant(Role::Admin));
        assert!(Role::Manager.can_grant(Role::Analyst));
        assert!(Role::Manager.can_grant(Role::Manager));
        assert!(!Role::Manager.can_grant(Role::Admin));
        assert!(!Role::Manager.can_grant(Role::Auditor));
        assert!(!Role::Viewer.can_grant(Role::Analyst));
        assert!(!Role::Auditor.can_grant(Role::Viewer));
    }
}
