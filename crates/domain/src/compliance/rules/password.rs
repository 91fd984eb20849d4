//! `password_policy`: stored hashes meet the current Argon2id parameters,
//! generated passwords are replaced in time, and privileged users have the
//! MFA their tenant's policy requires.

use serde_json::json;

use super::{Findings, UserSnapshot, count, listed, older_than};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::{CheckConfig, Thresholds};
use crate::compliance::phc::{ARGON2_VERSION_13, Argon2Params, Argon2Variant, HashScheme};
use crate::time::Timestamp;

/// Whether Argon2 parameters fall short of the policy: not Argon2id, not
/// version 1.3, or any of memory, passes and lanes below its minimum.
fn below_policy(p: &Argon2Params, t: &Thresholds) -> bool {
    p.variant != Argon2Variant::Argon2id
        || p.version < ARGON2_VERSION_13
        || p.memory_kib < t.min_hash_memory_kib
        || p.iterations < t.min_hash_iterations
        || p.parallelism < t.min_hash_parallelism
}

/// - hash below the Argon2id policy → WARNING (still a salted memory-hard
///   hash; it is replaced when the holder next sets a password);
/// - hash of another algorithm, or unreadable → FAILED (its strength
///   cannot be vouched for);
/// - generated password still in place more than
///   `initial_password_max_age_days` after it was issued
///   (`password_changed_at`, else `created_at`) → FAILED;
/// - user of a privileged role whose MFA the tenant requires but who has
///   not enrolled → FAILED.
pub fn password_policy(
    users: &[UserSnapshot],
    config: &CheckConfig,
    now: Timestamp,
) -> CheckResult {
    let t = &config.thresholds;
    let active: Vec<&UserSnapshot> = users.iter().filter(|u| u.active).collect();
    let ids = |keep: &dyn Fn(&UserSnapshot) -> bool| -> Vec<_> {
        active.iter().filter(|u| keep(u)).map(|u| u.id).collect()
    };
    let weak = ids(&|u| matches!(&u.hash, HashScheme::Argon2(p) if below_policy(p, t)));
    let foreign = ids(&|u| matches!(u.hash, HashScheme::Other { .. }));
    let unreadable = ids(&|u| matches!(u.hash, HashScheme::Unreadable));
    let stale = ids(&|u| {
        u.password_must_change
            && older_than(
                u.password_changed_at.unwrap_or(u.created_at),
                now,
                t.initial_password_max_age_days,
            )
    });
    let no_mfa =
        ids(&|u| t.privileged_roles.contains(&u.role) && u.mfa_required && !u.mfa_enrolled);

    let mut f = Findings::new();
    f.add(
        weak.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} below the Argon2id policy",
                count(weak.len(), "password hash", "password hashes")
            )
        },
        "Rehash below-policy passwords with the current parameters at their next change, or \
         require a change.",
    );
    f.add(
        foreign.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} not Argon2",
                count(foreign.len(), "password hash", "password hashes")
            )
        },
        "Require a password change for accounts whose hash is not Argon2id.",
    );
    f.add(
        unreadable.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} unreadable",
                count(unreadable.len(), "password hash", "password hashes")
            )
        },
        "Reset the passwords of accounts whose stored hash cannot be read.",
    );
    f.add(
        stale.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} kept a generated password for more than {} days",
                count(stale.len(), "user", "users"),
                t.initial_password_max_age_days
            )
        },
        "Disable or reset accounts whose generated password was never replaced.",
    );
    f.add(
        no_mfa.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} without the required MFA",
                count(no_mfa.len(), "privileged user", "privileged users")
            )
        },
        "Have privileged users enrol MFA, or suspend them until they do.",
    );
    let details = json!({
        "users_checked": active.len(),
        "hash_below_policy": listed(&weak),
        "hash_not_argon2": listed(&foreign),
        "hash_unreadable": listed(&unreadable),
        "initial_password_not_changed": listed(&stale),
        "privileged_without_mfa": listed(&no_mfa),
        "policy": {
            "memory_kib": t.min_hash_memory_kib,
            "iterations": t.min_hash_iterations,
            "parallelism": t.min_hash_parallelism,
            "initial_password_max_age_days": t.initial_password_max_age_days,
        },
    });
    let passed = format!(
        "{} meet the password policy",
        count(active.len(), "active user", "active users")
    );
    f.finish(CheckId::PasswordPolicy, config, passed, details, now)
}
