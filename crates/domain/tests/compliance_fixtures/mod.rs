//! Builders shared by the compliance test files: a fixed clock, a
//! well-kept user (passes every account check) with the knobs tests turn,
//! and helpers to read a result's details.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use chrono::{Duration, TimeZone, Utc};
use isms_domain::compliance::rules::UserSnapshot;
use isms_domain::compliance::*;
use isms_domain::time::Timestamp;
use isms_domain::{Role, UserId};

pub fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap()
}

pub fn days_ago(d: i64) -> Timestamp {
    now() - Duration::days(d)
}

pub const GOOD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

/// Active, current hash, chosen password, MFA enrolled, logged in and
/// reviewed recently.
pub fn user(role: Role) -> UserSnapshot {
    UserSnapshot {
        id: UserId::new(),
        role,
        active: true,
        created_at: days_ago(400),
        password_changed_at: Some(days_ago(30)),
        password_must_change: false,
        hash: HashScheme::from_phc(GOOD_HASH),
        mfa_enrolled: true,
        mfa_required: true,
        last_login_at: Some(days_ago(1)),
        last_access_review_at: Some(days_ago(10)),
    }
}

pub fn cfg() -> CheckConfig {
    CheckConfig::default()
}

/// The ids a `listed` details entry holds.
pub fn ids(details: &serde_json::Value, key: &str) -> Vec<String> {
    details[key]["ids"]
        .as_array()
        .unwrap_or_else(|| panic!("{key} has no ids: {details}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

pub fn listed_count(details: &serde_json::Value, key: &str) -> u64 {
    details[key]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} has no count: {details}"))
}

/// A result of `check` with `status` under default severities.
pub fn result(check: CheckId, status: CheckStatus) -> CheckResult {
    CheckResult::new(
        check,
        &cfg(),
        status,
        format!("{check} {status}"),
        serde_json::json!({}),
        (status != CheckStatus::Passed).then(|| format!("Fix {check}.")),
        now(),
    )
}

/// The same, at an explicit severity.
pub fn result_at(check: CheckId, status: CheckStatus, severity: Severity) -> CheckResult {
    let mut r = result(check, status);
    r.severity = severity;
    r
}
