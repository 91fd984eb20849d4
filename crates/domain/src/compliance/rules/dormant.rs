//! `dormant_accounts`: active accounts nobody has used for a long time
//! (Annex A 5.16 identity lifecycle, 5.18 removal of access rights).

use serde_json::json;

use super::{Findings, UserSnapshot, count, listed, older_than};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::time::Timestamp;

/// An active account is dormant when its last login (never: its creation)
/// lies more than `dormant_days` (90) back.
/// - dormant accounts of privileged roles → FAILED (unused standing
///   privilege is what an attacker looks for);
/// - other dormant accounts → WARNING.
pub fn dormant_accounts(
    users: &[UserSnapshot],
    config: &CheckConfig,
    now: Timestamp,
) -> CheckResult {
    let t = &config.thresholds;
    let active: Vec<&UserSnapshot> = users.iter().filter(|u| u.active).collect();
    let dormant: Vec<&&UserSnapshot> = active
        .iter()
        .filter(|u| older_than(u.last_login_at.unwrap_or(u.created_at), now, t.dormant_days))
        .collect();
    let (privileged, ordinary): (Vec<&UserSnapshot>, Vec<&UserSnapshot>) = dormant
        .iter()
        .map(|u| **u)
        .partition(|u| t.privileged_roles.contains(&u.role));
    let never = dormant.iter().filter(|u| u.last_login_at.is_none()).count();

    let mut f = Findings::new();
    f.add(
        privileged.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} without a login for more than {} days",
                count(
                    privileged.len(),
                    "privileged account",
                    "privileged accounts"
                ),
                t.dormant_days
            )
        },
        "Deactivate dormant accounts, or confirm with their owners that they are still needed.",
    );
    f.add(
        ordinary.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} without a login for more than {} days",
                count(ordinary.len(), "account", "accounts"),
                t.dormant_days
            )
        },
        "Deactivate dormant accounts, or confirm with their owners that they are still needed.",
    );
    let details = json!({
        "users_checked": active.len(),
        "dormant_privileged": listed(privileged.iter().map(|u| u.id)),
        "dormant": listed(ordinary.iter().map(|u| u.id)),
        "never_logged_in": never,
        "dormant_days": t.dormant_days,
    });
    let passed = format!(
        "{} used in the last {} days",
        count(active.len(), "active account", "active accounts"),
        t.dormant_days
    );
    f.finish(CheckId::DormantAccounts, config, passed, details, now)
}
