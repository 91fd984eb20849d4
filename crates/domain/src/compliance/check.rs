//! What a compliance check is (its id, severity, schedule and the Annex A
//! controls it evidences) and what one run of it produces.

use chrono::{Duration, Months};
use serde::{Deserialize, Serialize};

use super::config::CheckConfig;
use super::text::sanitise;
use super::vocab::vocabulary;
use crate::time::Timestamp;

vocabulary!(
    /// The nine checks of the compliance monitor.
    CheckId, field = "check" {
        PasswordPolicy => "password_policy",
        AccessReviews => "access_reviews",
        EncryptionCompliance => "encryption_compliance",
        AuditLogIntegrity => "audit_log_integrity",
        GdprCompliance => "gdpr_compliance",
        KeyRotation => "key_rotation",
        DormantAccounts => "dormant_accounts",
        RiskReview => "risk_review",
        AdminCount => "admin_count",
    }
);

vocabulary!(
    /// How much a check's failure matters. `Ord` is severity:
    /// `Low < Medium < High < Critical`.
    Severity, field = "severity" {
        Low => "LOW",
        Medium => "MEDIUM",
        High => "HIGH",
        Critical => "CRITICAL",
    }
);

vocabulary!(
    /// How often a check runs.
    Frequency, field = "frequency" {
        Hourly => "hourly",
        Daily => "daily",
        Weekly => "weekly",
        Monthly => "monthly",
    }
);

vocabulary!(
    /// The outcome of one run. `ERROR` means the check could not run (its
    /// input could not be read); it says nothing either way about
    /// compliance.
    CheckStatus, field = "status" {
        Passed => "PASSED",
        Warning => "WARNING",
        Failed => "FAILED",
        Error => "ERROR",
    }
);

impl Frequency {
    /// When a check that ran at `ran_at` is due again: one hour, one day or
    /// seven days later, or the same time one calendar month later (the
    /// last day of a shorter month: 31 January → 28/29 February).
    pub fn next_run_after(self, ran_at: Timestamp) -> Timestamp {
        match self {
            Frequency::Hourly => ran_at + Duration::hours(1),
            Frequency::Daily => ran_at + Duration::days(1),
            Frequency::Weekly => ran_at + Duration::days(7),
            Frequency::Monthly => ran_at
                .checked_add_months(Months::new(1))
                // Only beyond year 262143; 30 days keeps the schedule going.
                .unwrap_or(ran_at + Duration::days(30)),
        }
    }

    /// Whether a check last run at `last` (never: `None`) is due at `now`.
    pub fn is_due(self, last: Option<Timestamp>, now: Timestamp) -> bool {
        last.is_none_or(|t| now >= self.next_run_after(t))
    }
}

/// A check as the catalogue describes it: its defaults, before a tenant's
/// configuration applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckDefinition {
    pub id: CheckId,
    pub name: &'static str,
    pub description: &'static str,
    pub default_severity: Severity,
    pub default_frequency: Frequency,
    /// The Annex A (2022) controls a result of this check evidences.
    pub controls: &'static [&'static str],
}

/// The nine checks, in `CheckId` order. Severities and frequencies of the
/// first five are the issue's; those of the last four are ours (see
/// `docs/compliance.md`).
pub static DEFINITIONS: [CheckDefinition; 9] = [
    CheckDefinition {
        id: CheckId::PasswordPolicy,
        name: "Password policy",
        description: "Password hashes meet the current Argon2id parameters, generated \
                      passwords are replaced in time, privileged users have the MFA \
                      their tenant policy requires.",
        default_severity: Severity::High,
        default_frequency: Frequency::Daily,
        controls: &["5.17", "8.5"],
    },
    CheckDefinition {
        id: CheckId::AccessReviews,
        name: "Access reviews",
        description: "Every active user's access rights were reviewed recently.",
        default_severity: Severity::Medium,
        default_frequency: Frequency::Monthly,
        controls: &["5.15", "5.18", "8.2"],
    },
    CheckDefinition {
        id: CheckId::EncryptionCompliance,
        name: "Encryption compliance",
        description: "Sensitive fields are encrypted under a current key version.",
        default_severity: Severity::High,
        default_frequency: Frequency::Weekly,
        controls: &["8.24", "5.34"],
    },
    CheckDefinition {
        id: CheckId::AuditLogIntegrity,
        name: "Audit log integrity",
        description: "Every tenant audit log re-hashes to its tree and every signed \
                      checkpoint verifies.",
        default_severity: Severity::Critical,
        default_frequency: Frequency::Hourly,
        controls: &["8.15", "5.28", "5.33"],
    },
    CheckDefinition {
        id: CheckId::GdprCompliance,
        name: "GDPR compliance",
        description: "Processing has a consent record, records are kept no longer than \
                      their retention period, data-subject requests are answered in time.",
        default_severity: Severity::High,
        default_frequency: Frequency::Daily,
        controls: &["5.34", "5.31", "8.10"],
    },
    CheckDefinition {
        id: CheckId::KeyRotation,
        name: "Key rotation",
        description: "No key encrypts new data beyond its rotation period.",
        default_severity: Severity::High,
        default_frequency: Frequency::Daily,
        controls: &["8.24"],
    },
    CheckDefinition {
        id: CheckId::DormantAccounts,
        name: "Dormant accounts",
        description: "Active accounts that have not been used for a long time are disabled.",
        default_severity: Severity::Medium,
        default_frequency: Frequency::Weekly,
        controls: &["5.16", "5.18"],
    },
    CheckDefinition {
        id: CheckId::RiskReview,
        name: "Risk review",
        description: "Assets are reassessed on schedule and every CRITICAL or HIGH risk \
                      has an approved treatment.",
        default_severity: Severity::High,
        default_frequency: Frequency::Weekly,
        controls: &["5.9", "5.12", "8.8"],
    },
    CheckDefinition {
        id: CheckId::AdminCount,
        name: "Administrator count",
        description: "Few administrators, each with MFA.",
        default_severity: Severity::Medium,
        default_frequency: Frequency::Daily,
        controls: &["8.2", "8.5"],
    },
];

impl CheckId {
    /// The catalogue entry of this check.
    pub fn definition(self) -> &'static CheckDefinition {
        &DEFINITIONS[self as usize]
    }

    /// The Annex A controls a result of this check evidences.
    pub fn controls(self) -> Vec<String> {
        self.definition()
            .controls
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }
}

/// Longest message or recommendation a result carries.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// One run of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: CheckId,
    /// The severity in force when the check ran (the tenant may change it
    /// later; a result keeps the one it was judged by).
    pub severity: Severity,
    pub status: CheckStatus,
    pub message: String,
    /// Ids and counts behind the status; never personal data, never
    /// floating-point numbers (reports sign them canonically).
    pub details: serde_json::Value,
    /// What to do about it; `None` when the check passed.
    pub recommendation: Option<String>,
    /// Annex A (2022) controls this result evidences.
    pub controls: Vec<String>,
    pub ran_at: Timestamp,
}

impl CheckResult {
    /// A result judged under `config`'s severity for `check`.
    pub fn new(
        check: CheckId,
        config: &CheckConfig,
        status: CheckStatus,
        message: String,
        details: serde_json::Value,
        recommendation: Option<String>,
        ran_at: Timestamp,
    ) -> Self {
        Self {
            check,
            severity: config.checks.get(check).severity,
            status,
            message: sanitise(&message, MAX_MESSAGE_CHARS),
            details,
            recommendation: recommendation.map(|r| sanitise(&r, MAX_MESSAGE_CHARS)),
            controls: check.controls(),
            ran_at,
        }
    }

    /// The result of a check that could not run (its input could not be
    /// read, or the rule panicked and the caller caught it): `ERROR` with
    /// the error's message, so one broken check never aborts a run. The
    /// message is made safe (no control characters, at most 500
    /// characters); callers should still pass a message without internals.
    pub fn error(check: CheckId, config: &CheckConfig, message: &str, ran_at: Timestamp) -> Self {
        Self::new(
            check,
            config,
            CheckStatus::Error,
            format!("check could not run: {}", message.trim()),
            serde_json::json!({}),
            Some("Investigate why the check's data could not be read, then run it again.".into()),
            ran_at,
        )
    }

    /// `Ok(result)` as is, `Err(e)` as an `ERROR` result: the one place
    /// the runner turns a failing port into a result.
    pub fn from_outcome<E: std::fmt::Display>(
        check: CheckId,
        config: &CheckConfig,
        outcome: Result<CheckResult, E>,
        ran_at: Timestamp,
    ) -> Self {
        match outcome {
            Ok(r) => r,
            Err(e) => Self::error(check, config, &e.to_string(), ran_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(y: i32, m: u32, d: u32) -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(y, m, d, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn definitions_are_in_id_order() {
        for (i, id) in CheckId::ALL.iter().enumerate() {
            assert_eq!(DEFINITIONS[i].id, *id);
            assert_eq!(id.definition().id, *id);
        }
        assert_eq!(CheckId::ALL.len(), DEFINITIONS.len());
    }

    #[test]
    fn issue_defaults() {
        use CheckId as C;
        let d = |c: C| {
            (
                c.definition().default_frequency,
                c.definition().default_severity,
            )
        };
        assert_eq!(d(C::PasswordPolicy), (Frequency::Daily, Severity::High));
        assert_eq!(d(C::AccessReviews), (Frequency::Monthly, Severity::Medium));
        assert_eq!(
            d(C::EncryptionCompliance),
            (Frequency::Weekly, Severity::High)
        );
        assert_eq!(
            d(C::AuditLogIntegrity),
            (Frequency::Hourly, Severity::Critical)
        );
        assert_eq!(d(C::GdprCompliance), (Frequency::Daily, Severity::High));
    }

    #[test]
    fn every_control_reference_exists() {
        for d in &DEFINITIONS {
            assert!(!d.controls.is_empty());
            for c in d.controls {
                assert!(super::super::catalogue::control(c).is_some(), "{c}");
            }
        }
    }

    #[test]
    fn wire_spellings() {
        assert_eq!(CheckStatus::Passed.as_str(), "PASSED");
        assert_eq!(
            serde_json::to_string(&Severity::Critical).ok().as_deref(),
            Some("\"CRITICAL\"")
        );
        assert_eq!(
            CheckId::parse("audit_log_integrity"),
            Ok(CheckId::AuditLogIntegrity)
        );
        assert!(CheckId::parse("AUDIT_LOG_INTEGRITY").is_err());
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
    }

    #[test]
    fn next_runs() {
        let t = at(2026, 1, 31);
        assert_eq!(Frequency::Hourly.next_run_after(t), t + Duration::hours(1));
        assert_eq!(Frequency::Daily.next_run_after(t), at(2026, 2, 1));
        assert_eq!(Frequency::Weekly.next_run_after(t), at(2026, 2, 7));
        assert_eq!(Frequency::Monthly.next_run_after(t), at(2026, 2, 28));
        assert_eq!(
            Frequency::Monthly.next_run_after(at(2028, 1, 31)),
            at(2028, 2, 29)
        );
        assert_eq!(
            Frequency::Monthly.next_run_after(at(2026, 3, 15)),
            at(2026, 4, 15)
        );
    }

    #[test]
    fn due_exactly_at_the_next_run() {
        let t = at(2026, 3, 1);
        assert!(Frequency::Daily.is_due(None, t));
        assert!(!Frequency::Daily.is_due(Some(t), t + Duration::hours(23)));
        assert!(Frequency::Daily.is_due(Some(t), t + Duration::days(1)));
    }

    #[test]
    fn errors_become_results() {
        let cfg = CheckConfig::default();
        let t = at(2026, 3, 1);
        let r = CheckResult::from_outcome(
            CheckId::AuditLogIntegrity,
            &cfg,
            Err::<CheckResult, _>("database\nunavailable"),
            t,
        );
        assert_eq!(r.status, CheckStatus::Error);
        assert_eq!(r.message, "check could not run: database unavailable");
        assert_eq!(r.severity, Severity::Critical);
        assert_eq!(r.controls, vec!["8.15", "5.28", "5.33"]);
        assert!(r.recommendation.is_some());
    }
}
