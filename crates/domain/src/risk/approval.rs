//! Who may approve the treatment of a risk (ISO 27001 6.1.3 f: risk
//! owners approve the plan and accept the residual risk), by the level of
//! the risk being treated.

use serde::{Deserialize, Serialize};

use super::level::RiskLevel;
use crate::ids::UserId;
use crate::rbac::{Permission, allows};
use crate::role::Role;

/// What an approver must have for a treatment of a given level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequirement {
    /// The lowest role in the admin > manager > analyst chain that may
    /// approve. Auditors never approve (they hold no write permission).
    pub min_role: Role,
    /// A second factor verified within the step-up window.
    pub step_up: bool,
    /// Segregation of duties (Annex A 5.3): the approver is not the person
    /// who proposed this revision of the treatment.
    pub distinct_from_proposer: bool,
}

/// The rule by level. MEDIUM needs a manager because the method's MEDIUM
/// mitigations already call for management approval; LOW stays with the
/// analysts who run the register. HIGH and CRITICAL add four eyes;
/// CRITICAL ("board-level approval") needs an admin with fresh MFA.
pub const fn approval_requirement(level: RiskLevel) -> ApprovalRequirement {
    match level {
        RiskLevel::Low => ApprovalRequirement {
            min_role: Role::Analyst,
            step_up: false,
            distinct_from_proposer: false,
        },
        RiskLevel::Medium => ApprovalRequirement {
            min_role: Role::Manager,
            step_up: false,
            distinct_from_proposer: false,
        },
        RiskLevel::High => ApprovalRequirement {
            min_role: Role::Manager,
            step_up: false,
            distinct_from_proposer: true,
        },
        RiskLevel::Critical => ApprovalRequirement {
            min_role: Role::Admin,
            step_up: true,
            distinct_from_proposer: true,
        },
    }
}

/// The person approving, as the app layer knows them. `step_up_verified`
/// is the outcome of `Principal::require_step_up` for the tenant's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approver {
    pub user_id: UserId,
    pub role: Role,
    pub step_up_verified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalDenied {
    #[error("approving this treatment requires the {0} role or above")]
    RoleTooLow(Role),
    #[error("approving this treatment requires a recent second-factor verification")]
    StepUpRequired,
    #[error("a treatment cannot be approved by the person who proposed it")]
    SelfApproval,
}

impl ApprovalRequirement {
    /// The RBAC permission that stands for `min_role`, so the hierarchy is
    /// decided in one place (`rbac`). Roles below analyst map to the
    /// analyst permission: nothing lower may approve.
    pub const fn permission(&self) -> Permission {
        match self.min_role {
            Role::Admin => Permission::RisksApproveCritical,
            Role::Manager => Permission::RisksApproveHigh,
            Role::Analyst | Role::Auditor | Role::Viewer => Permission::AssetsWrite,
        }
    }

    pub fn check(&self, approver: &Approver, proposer: UserId) -> Result<(), ApprovalDenied> {
        if !allows(approver.role, self.permission()) {
            return Err(ApprovalDenied::RoleTooLow(self.min_role));
        }
        if self.distinct_from_proposer && approver.user_id == proposer {
            return Err(ApprovalDenied::SelfApproval);
        }
        if self.step_up && !approver.step_up_verified {
            return Err(ApprovalDenied::StepUpRequired);
        }
        Ok(())
    }
}
