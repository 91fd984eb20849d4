//! `admin_count`: few administrators, each protected by MFA (Annex A 8.2
//! privileged access rights kept to a minimum, 8.5 secure authentication).

use serde_json::json;

use super::{Findings, UserSnapshot, count, listed};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::role::Role;
use crate::time::Timestamp;

/// Over the active `admin` accounts:
/// - any without MFA enrolled → FAILED, whatever the tenant's MFA policy
///   (an administrator can change that policy);
/// - more than `max_admins` (3) → WARNING.
pub fn admin_count(users: &[UserSnapshot], config: &CheckConfig, now: Timestamp) -> CheckResult {
    let max = config.thresholds.max_admins;
    let admins: Vec<&UserSnapshot> = users
        .iter()
        .filter(|u| u.active && u.role == Role::Admin)
        .collect();
    let no_mfa: Vec<_> = admins
        .iter()
        .filter(|u| !u.mfa_enrolled)
        .map(|u| u.id)
        .collect();
    let excess = admins
        .len()
        .saturating_sub(usize::try_from(max).unwrap_or(usize::MAX));

    let mut f = Findings::new();
    f.add(
        no_mfa.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} without MFA",
                count(no_mfa.len(), "administrator", "administrators")
            )
        },
        "Have every administrator enrol MFA, and require it for the admin role.",
    );
    f.add(
        excess,
        CheckStatus::Warning,
        || {
            format!(
                "{} active administrators, more than the {max} allowed",
                admins.len()
            )
        },
        "Reduce the number of administrators; give others the least role they need.",
    );
    let details = json!({
        "admins": listed(admins.iter().map(|u| u.id)),
        "admins_without_mfa": listed(&no_mfa),
        "max_admins": max,
    });
    let passed = format!(
        "{}, all with MFA",
        count(
            admins.len(),
            "active administrator",
            "active administrators"
        )
    );
    f.finish(CheckId::AdminCount, config, passed, details, now)
}
