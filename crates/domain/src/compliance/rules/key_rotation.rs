//! `key_rotation`: no key encrypts new data beyond its rotation period
//! (Annex A 8.24, key management: a defined cryptoperiod).

use chrono::Duration;
use serde_json::json;

use super::{Findings, count, older_than};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::crypto::{DataKeyMeta, KeyState};
use crate::time::Timestamp;

/// One key version: a data key (`tenant:<uuid>/confidential/v3`) or any
/// other versioned key the application rotates (signing keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersionInfo {
    pub id: String,
    pub state: KeyState,
    pub created_at: Timestamp,
}

impl From<&DataKeyMeta> for KeyVersionInfo {
    fn from(m: &DataKeyMeta) -> Self {
        Self {
            id: m.id(),
            state: m.state,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRotationInput {
    pub keys: Vec<KeyVersionInfo>,
}

/// Only primary versions count: the others no longer encrypt (their
/// age is `encryption_compliance`'s concern, through the data under them).
/// - a primary older than `key_max_age_days` (90) → FAILED;
/// - a primary within `key_rotation_warning_days` (14) of it → WARNING.
pub fn key_rotation(input: &KeyRotationInput, config: &CheckConfig, now: Timestamp) -> CheckResult {
    let t = &config.thresholds;
    let primaries: Vec<&KeyVersionInfo> = input
        .keys
        .iter()
        .filter(|k| k.state == KeyState::Primary)
        .collect();
    // Saturating: a configuration that skipped `validate` must not panic.
    let warn_after = t
        .key_max_age_days
        .saturating_sub(t.key_rotation_warning_days);
    let overdue: Vec<&str> = primaries
        .iter()
        .filter(|k| older_than(k.created_at, now, t.key_max_age_days))
        .map(|k| k.id.as_str())
        .collect();
    let due_soon: Vec<&str> = primaries
        .iter()
        .filter(|k| {
            !older_than(k.created_at, now, t.key_max_age_days)
                && now - k.created_at >= Duration::days(i64::from(warn_after))
        })
        .map(|k| k.id.as_str())
        .collect();
    let oldest_days = primaries
        .iter()
        .map(|k| (now - k.created_at).num_days())
        .max();

    let mut f = Findings::new();
    f.add(
        overdue.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} older than the {}-day rotation period",
                count(overdue.len(), "primary key", "primary keys"),
                t.key_max_age_days
            )
        },
        "Rotate the listed keys now and check that the rotation job runs.",
    );
    f.add(
        due_soon.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} due for rotation within {} days",
                count(due_soon.len(), "primary key", "primary keys"),
                t.key_rotation_warning_days
            )
        },
        "Check that the rotation job will rotate the listed keys in time.",
    );
    let cap = |mut v: Vec<&str>| {
        let n = v.len();
        v.sort_unstable();
        v.truncate(super::MAX_LISTED_IDS);
        json!({ "count": n, "ids": v, "truncated": n > super::MAX_LISTED_IDS })
    };
    let details = json!({
        "keys_checked": input.keys.len(),
        "primary_keys": primaries.len(),
        "overdue": cap(overdue.clone()),
        "due_soon": cap(due_soon.clone()),
        "oldest_primary_age_days": oldest_days,
        "max_age_days": t.key_max_age_days,
    });
    let passed = format!(
        "{} within the {}-day rotation period",
        count(primaries.len(), "primary key", "primary keys"),
        t.key_max_age_days
    );
    f.finish(CheckId::KeyRotation, config, passed, details, now)
}
