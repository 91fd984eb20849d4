//! Who may decrypt what. The matrix is derived from the RBAC table (the
//! `data:read_*` permissions), so there is one place that says which role
//! holds which permission; this module adds the MFA step-up for the most
//! sensitive class.
//!
//! | classification | roles                      | extra              |
//! |----------------|----------------------------|--------------------|
//! | public         | every role                 |                    |
//! | internal       | every role (viewer and up) |                    |
//! | confidential   | admin, manager, auditor    |                    |
//! | restricted     | admin                      | recent MFA step-up |

use std::time::Duration;

use super::classification::Classification;
use crate::mfa::StepUpDenied;
use crate::principal::Principal;
use crate::rbac::{Permission, allows};
use crate::role::Role;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptRule {
    Allow,
    /// Allowed once the session has verified its second factor recently.
    AllowWithStepUp,
    Deny,
}

/// The permission decrypting data of `classification` requires.
pub const fn read_permission(classification: Classification) -> Permission {
    match classification {
        Classification::Public | Classification::Internal => Permission::DataReadInternal,
        Classification::Confidential => Permission::DataReadConfidential,
        Classification::Restricted => Permission::DataReadRestricted,
    }
}

pub fn can_decrypt(role: Role, classification: Classification) -> DecryptRule {
    if !allows(role, read_permission(classification)) {
        return DecryptRule::Deny;
    }
    if classification == Classification::Restricted {
        DecryptRule::AllowWithStepUp
    } else {
        DecryptRule::Allow
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptDenied {
    #[error("permission {0} is required")]
    Permission(Permission),
    #[error(transparent)]
    StepUp(#[from] StepUpDenied),
}

/// Applies the matrix to an authenticated caller: the step-up must be
/// within `step_up_window` of `now`.
pub fn authorize_decrypt(
    principal: &Principal,
    classification: Classification,
    now: Timestamp,
    step_up_window: Duration,
) -> Result<(), DecryptDenied> {
    match can_decrypt(principal.role, classification) {
        DecryptRule::Allow => Ok(()),
        DecryptRule::AllowWithStepUp => Ok(principal.require_step_up(now, step_up_window)?),
        DecryptRule::Deny => Err(DecryptDenied::Permission(read_permission(classification))),
    }
}
