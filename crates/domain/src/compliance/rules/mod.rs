//! One pure rule per check. Each takes a plain snapshot the application
//! fills from its ports, the tenant's `CheckConfig` and the time, and
//! returns a `CheckResult`. The rules never fail: a snapshot that could
//! not be read is the caller's `CheckResult::error`.
//!
//! Details list ids and counts only (no e-mail addresses, names or other
//! personal data), with at most `MAX_LISTED_IDS` ids per list (the count
//! is always complete), and hold integers only, so that a signed report
//! can encode them canonically.

mod access_reviews;
mod admin_count;
mod audit_integrity;
mod dormant;
mod encryption;
mod gdpr;
mod key_rotation;
mod password;
mod risk_review;
mod users;

use std::fmt::Display;

use chrono::Duration;
use serde_json::{Value, json};

pub use access_reviews::access_reviews;
pub use admin_count::admin_count;
pub use audit_integrity::{
    AuditIntegrityInput, IntegrityFailure, LogVerification, audit_log_integrity,
};
pub use dormant::dormant_accounts;
pub use encryption::{ColumnCounts, EncryptionInput, encryption_compliance};
pub use gdpr::{GdprInput, PendingRequest, RetentionBacklog, gdpr_compliance};
pub use key_rotation::{KeyRotationInput, KeyVersionInfo, key_rotation};
pub use password::password_policy;
pub use risk_review::{AssetReview, RiskReviewInput, RiskTreatmentState, risk_review};
pub use users::UserSnapshot;

use super::check::{CheckId, CheckResult, CheckStatus};
use super::config::CheckConfig;
use crate::time::Timestamp;

/// Most ids one list in `details` holds.
pub const MAX_LISTED_IDS: usize = 50;

/// The input of any check, for a runner that dispatches on the check id.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckInput {
    PasswordPolicy(Vec<UserSnapshot>),
    AccessReviews(Vec<UserSnapshot>),
    EncryptionCompliance(EncryptionInput),
    AuditLogIntegrity(AuditIntegrityInput),
    GdprCompliance(GdprInput),
    KeyRotation(KeyRotationInput),
    DormantAccounts(Vec<UserSnapshot>),
    RiskReview(RiskReviewInput),
    AdminCount(Vec<UserSnapshot>),
}

impl CheckInput {
    pub fn check(&self) -> CheckId {
        match self {
            CheckInput::PasswordPolicy(_) => CheckId::PasswordPolicy,
            CheckInput::AccessReviews(_) => CheckId::AccessReviews,
            CheckInput::EncryptionCompliance(_) => CheckId::EncryptionCompliance,
            CheckInput::AuditLogIntegrity(_) => CheckId::AuditLogIntegrity,
            CheckInput::GdprCompliance(_) => CheckId::GdprCompliance,
            CheckInput::KeyRotation(_) => CheckId::KeyRotation,
            CheckInput::DormantAccounts(_) => CheckId::DormantAccounts,
            CheckInput::RiskReview(_) => CheckId::RiskReview,
            CheckInput::AdminCount(_) => CheckId::AdminCount,
        }
    }
}

/// Runs the rule that belongs to `input`.
pub fn evaluate(input: &CheckInput, config: &CheckConfig, now: Timestamp) -> CheckResult {
    match input {
        CheckInput::PasswordPolicy(u) => password_policy(u, config, now),
        CheckInput::AccessReviews(u) => access_reviews(u, config, now),
        CheckInput::EncryptionCompliance(i) => encryption_compliance(i, config, now),
        CheckInput::AuditLogIntegrity(i) => audit_log_integrity(i, config, now),
        CheckInput::GdprCompliance(i) => gdpr_compliance(i, config, now),
        CheckInput::KeyRotation(i) => key_rotation(i, config, now),
        CheckInput::DormantAccounts(u) => dormant_accounts(u, config, now),
        CheckInput::RiskReview(i) => risk_review(i, config, now),
        CheckInput::AdminCount(u) => admin_count(u, config, now),
    }
}

/// Whether `since` lies strictly more than `days` whole days before `now`.
pub(crate) fn older_than(since: Timestamp, now: Timestamp, days: u32) -> bool {
    now - since > Duration::days(i64::from(days))
}

/// `{"count": n, "ids": [...], "truncated": bool}`: ids sorted, so that
/// two runs over the same data give the same details.
pub(crate) fn listed<I: Display>(ids: impl IntoIterator<Item = I>) -> Value {
    let mut all: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    all.sort_unstable();
    let count = all.len();
    all.truncate(MAX_LISTED_IDS);
    json!({ "count": count, "ids": all, "truncated": count > MAX_LISTED_IDS })
}

/// `1 user`, `2 users`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The worse of two statuses among PASSED < WARNING < FAILED.
pub(crate) fn worse(a: CheckStatus, b: CheckStatus) -> CheckStatus {
    let rank = |s| match s {
        CheckStatus::Passed => 0,
        CheckStatus::Warning => 1,
        CheckStatus::Failed => 2,
        CheckStatus::Error => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Findings of one rule: each a status, a message part and a
/// recommendation part, folded into one result.
pub(crate) struct Findings {
    status: CheckStatus,
    messages: Vec<String>,
    recommendations: Vec<&'static str>,
}

impl Findings {
    pub(crate) fn new() -> Self {
        Self {
            status: CheckStatus::Passed,
            messages: Vec::new(),
            recommendations: Vec::new(),
        }
    }

    /// Records a finding when `n > 0`.
    pub(crate) fn add(
        &mut self,
        n: usize,
        status: CheckStatus,
        message: impl FnOnce() -> String,
        recommendation: &'static str,
    ) {
        if n == 0 {
            return;
        }
        self.status = worse(self.status, status);
        self.messages.push(message());
        if !self.recommendations.contains(&recommendation) {
            self.recommendations.push(recommendation);
        }
    }

    pub(crate) fn finish(
        self,
        check: CheckId,
        config: &CheckConfig,
        passed_message: String,
        details: Value,
        now: Timestamp,
    ) -> CheckResult {
        let (message, recommendation) = if self.messages.is_empty() {
            (passed_message, None)
        } else {
            (
                self.messages.join("; "),
                Some(self.recommendations.join(" ")),
            )
        };
        CheckResult::new(
            check,
            config,
            self.status,
            message,
            details,
            recommendation,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_than_is_strict() {
        let now = crate::time::now();
        assert!(!older_than(now - Duration::days(90), now, 90));
        assert!(older_than(
            now - Duration::days(90) - Duration::seconds(1),
            now,
            90
        ));
    }

    #[test]
    fn lists_are_sorted_capped_and_counted() {
        let v = listed((0..60).rev());
        assert_eq!(v["count"], 60);
        assert_eq!(v["truncated"], true);
        assert_eq!(v["ids"].as_array().map(Vec::len), Some(MAX_LISTED_IDS));
        assert_eq!(v["ids"][0], "0");
        let small = listed(["b", "a"]);
        assert_eq!(
            small,
            json!({"count": 2, "ids": ["a", "b"], "truncated": false})
        );
    }

    #[test]
    fn findings_take_the_worst_status() {
        let mut f = Findings::new();
        f.add(0, CheckStatus::Failed, || "x".into(), "never");
        f.add(2, CheckStatus::Warning, || "two".into(), "Fix it.");
        f.add(1, CheckStatus::Failed, || "one".into(), "Fix it.");
        let r = f.finish(
            CheckId::AdminCount,
            &CheckConfig::default(),
            "fine".into(),
            json!({}),
            crate::time::now(),
        );
        assert_eq!(r.status, CheckStatus::Failed);
        assert_eq!(r.message, "two; one");
        assert_eq!(r.recommendation.as_deref(), Some("Fix it."));
    }
}
