//! Per-tenant configuration of the compliance monitor: for each check
//! whether it runs, how often and at which severity, plus the thresholds
//! the rules compare against. Every field has a default, so a stored
//! configuration names only what the tenant changed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check::{CheckId, Frequency, Severity};
use crate::risk::{Problem, ValidationError};
use crate::role::Role;

/// How one check runs for a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// A disabled check is not scheduled and does not count in the score.
    pub enabled: bool,
    pub frequency: Frequency,
    pub severity: Severity,
}

impl CheckSettings {
    /// The catalogue defaults of `check`, enabled.
    pub fn defaults_for(check: CheckId) -> Self {
        let d = check.definition();
        Self {
            enabled: true,
            frequency: d.default_frequency,
            severity: d.default_severity,
        }
    }
}

/// One `CheckSettings` per check. A struct rather than a map, so that a
/// configuration cannot leave a check out or name one that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    pub password_policy: CheckSettings,
    pub access_reviews: CheckSettings,
    pub encryption_compliance: CheckSettings,
    pub audit_log_integrity: CheckSettings,
    pub gdpr_compliance: CheckSettings,
    pub key_rotation: CheckSettings,
    pub dormant_accounts: CheckSettings,
    pub risk_review: CheckSettings,
    pub admin_count: CheckSettings,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        use CheckId as C;
        Self {
            password_policy: CheckSettings::defaults_for(C::PasswordPolicy),
            access_reviews: CheckSettings::defaults_for(C::AccessReviews),
            encryption_compliance: CheckSettings::defaults_for(C::EncryptionCompliance),
            audit_log_integrity: CheckSettings::defaults_for(C::AuditLogIntegrity),
            gdpr_compliance: CheckSettings::defaults_for(C::GdprCompliance),
            key_rotation: CheckSettings::defaults_for(C::KeyRotation),
            dormant_accounts: CheckSettings::defaults_for(C::DormantAccounts),
            risk_review: CheckSettings::defaults_for(C::RiskReview),
            admin_count: CheckSettings::defaults_for(C::AdminCount),
        }
    }
}

impl ChecksConfig {
    pub fn get(&self, check: CheckId) -> &CheckSettings {
        match check {
            CheckId::PasswordPolicy => &self.password_policy,
            CheckId::AccessReviews => &self.access_reviews,
            CheckId::EncryptionCompliance => &self.encryption_compliance,
            CheckId::AuditLogIntegrity => &self.audit_log_integrity,
            CheckId::GdprCompliance => &self.gdpr_compliance,
            CheckId::KeyRotation => &self.key_rotation,
            CheckId::DormantAccounts => &self.dormant_accounts,
            CheckId::RiskReview => &self.risk_review,
            CheckId::AdminCount => &self.admin_count,
        }
    }

    pub fn get_mut(&mut self, check: CheckId) -> &mut CheckSettings {
        match check {
            CheckId::PasswordPolicy => &mut self.password_policy,
            CheckId::AccessReviews => &mut self.access_reviews,
            CheckId::EncryptionCompliance => &mut self.encryption_compliance,
            CheckId::AuditLogIntegrity => &mut self.audit_log_integrity,
            CheckId::GdprCompliance => &mut self.gdpr_compliance,
            CheckId::KeyRotation => &mut self.key_rotation,
            CheckId::DormantAccounts => &mut self.dormant_accounts,
            CheckId::RiskReview => &mut self.risk_review,
            CheckId::AdminCount => &mut self.admin_count,
        }
    }

    /// The enabled checks, in `CheckId` order.
    pub fn enabled(&self) -> impl Iterator<Item = CheckId> + '_ {
        CheckId::ALL
            .iter()
            .copied()
            .filter(|c| self.get(*c).enabled)
    }
}

/// The numbers the rules compare against. Days are whole days of 24 hours;
/// "older than N days" always means strictly more than N × 24 h.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Argon2id parameters a hash must reach (the hasher's current ones:
    /// OWASP's 19 MiB, 2 passes, 1 lane).
    pub min_hash_memory_kib: u32,
    pub min_hash_iterations: u32,
    pub min_hash_parallelism: u32,
    /// How long a generated (one-time) password may stay unchanged.
    pub initial_password_max_age_days: u32,
    /// Roles whose holders count as privileged (dormant-account failures,
    /// the MFA requirement of `password_policy`).
    pub privileged_roles: BTreeSet<Role>,
    /// A review older than this (or none) is a WARNING…
    pub access_review_max_age_days: u32,
    /// …and older than this (or none on an account older than this) a
    /// FAILED.
    pub access_review_fail_days: u32,
    /// Rotation period: a primary key older than this is FAILED.
    pub key_max_age_days: u32,
    /// A primary key this close to its rotation period is a WARNING.
    pub key_rotation_warning_days: u32,
    /// No login for longer than this makes an active account dormant.
    pub dormant_days: u32,
    /// More active administrators than this is a WARNING.
    pub max_admins: u32,
    /// Records past retention for longer than this (the daily retention
    /// job had its chance) are FAILED rather than WARNING.
    pub retention_grace_days: u32,
    /// Deadline of a data-subject request (GDPR Art. 12(3): one month).
    pub dsr_deadline_days: u32,
    /// A request this close to its deadline is a WARNING.
    pub dsr_warning_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_hash_memory_kib: 19_456,
            min_hash_iterations: 2,
            min_hash_parallelism: 1,
            initial_password_max_age_days: 7,
            privileged_roles: BTreeSet::from([Role::Admin, Role::Manager]),
            access_review_max_age_days: 90,
            access_review_fail_days: 180,
            key_max_age_days: 90,
            key_rotation_warning_days: 14,
            dormant_days: 90,
            max_admins: 3,
            retention_grace_days: 7,
            dsr_deadline_days: 30,
            dsr_warning_days: 7,
        }
    }
}

/// A tenant's whole compliance-monitor configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckConfig {
    pub checks: ChecksConfig,
    pub thresholds: Thresholds,
}

fn range(field: &'static str, value: u32, min: u32, max: u32) -> Result<(), ValidationError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Problem::OutOfRange {
                min: i64::from(min),
                max: i64::from(max),
            },
        ))
    }
}

impl CheckConfig {
    /// The settings of one check.
    pub fn settings(&self, check: CheckId) -> &CheckSettings {
        self.checks.get(check)
    }

    /// Ranges, and the orderings between thresholds that keep every status
    /// reachable (a warning window shorter than the period it warns about).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let t = &self.thresholds;
        range(
            "thresholds.min_hash_memory_kib",
            t.min_hash_memory_kib,
            8,
            4_194_304,
        )?;
        range(
            "thresholds.min_hash_iterations",
            t.min_hash_iterations,
            1,
            100,
        )?;
        range(
            "thresholds.min_hash_parallelism",
            t.min_hash_parallelism,
            1,
            64,
        )?;
        range(
            "thresholds.initial_password_max_age_days",
            t.initial_password_max_age_days,
            1,
            365,
        )?;
        range(
            "thresholds.access_review_max_age_days",
            t.access_review_max_age_days,
            1,
            3650,
        )?;
        range(
            "thresholds.access_review_fail_days",
            t.access_review_fail_days,
            t.access_review_max_age_days,
            3650,
        )?;
        range("thresholds.key_max_age_days", t.key_max_age_days, 1, 3650)?;
        range(
            "thresholds.key_rotation_warning_days",
            t.key_rotation_warning_days,
            0,
            t.key_max_age_days - 1,
        )?;
        range("thresholds.dormant_days", t.dormant_days, 1, 3650)?;
        range("thresholds.max_admins", t.max_admins, 1, 1000)?;
        range(
            "thresholds.retention_grace_days",
            t.retention_grace_days,
            0,
            365,
        )?;
        // Art. 12(3): one month, extendable by two further months at most.
        range("thresholds.dsr_deadline_days", t.dsr_deadline_days, 1, 90)?;
        range(
            "thresholds.dsr_warning_days",
            t.dsr_warning_days,
            0,
            t.dsr_deadline_days - 1,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_catalogue() {
        let c = CheckConfig::default();
        assert_eq!(c.validate(), Ok(()));
        for id in CheckId::ALL {
            assert_eq!(c.settings(*id).severity, id.definition().default_severity);
            assert!(c.settings(*id).enabled);
        }
        assert_eq!(c.checks.enabled().count(), 9);
        assert_eq!(c.thresholds.access_review_max_age_days, 90);
        assert_eq!(c.thresholds.dormant_days, 90);
        assert_eq!(c.thresholds.max_admins, 3);
        assert_eq!(c.thresholds.key_max_age_days, 90);
        assert_eq!(c.thresholds.dsr_deadline_days, 30);
    }

    #[test]
    fn partial_json_keeps_the_other_defaults() {
        let c: CheckConfig = serde_json::from_str(
            r#"{"checks":{"risk_review":{"enabled":false,"frequency":"daily","severity":"LOW"}},
                "thresholds":{"max_admins":5}}"#,
        )
        .unwrap_or_default();
        assert_eq!(c.thresholds.max_admins, 5);
        assert_eq!(c.thresholds.dormant_days, 90);
        assert!(!c.settings(CheckId::RiskReview).enabled);
        assert_eq!(c.settings(CheckId::RiskReview).severity, Severity::Low);
        assert!(c.settings(CheckId::AdminCount).enabled);
        assert_eq!(c.checks.enabled().count(), 8);
        let unknown = serde_json::from_str::<CheckConfig>(r#"{"thresholds":{"max_admin":5}}"#);
        assert!(unknown.is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let field = |f: fn(&mut Thresholds)| {
            let mut c = CheckConfig::default();
            f(&mut c.thresholds);
            c.validate().err().map(|e| e.field)
        };
        assert_eq!(field(|t| t.max_admins = 0), Some("thresholds.max_admins"));
        assert_eq!(
            field(|t| t.access_review_fail_days = 89),
            Some("thresholds.access_review_fail_days")
        );
        assert_eq!(
            field(|t| t.key_rotation_warning_days = 90),
            Some("thresholds.key_rotation_warning_days")
        );
        assert_eq!(
            field(|t| t.dsr_deadline_days = 91),
            Some("thresholds.dsr_deadline_days")
        );
        assert_eq!(
            field(|t| t.dsr_warning_days = 30),
            Some("thresholds.dsr_warning_days")
        );
        assert_eq!(
            field(|t| t.min_hash_iterations = 0),
            Some("thresholds.min_hash_iterations")
        );
        assert_eq!(field(|t| t.dsr_warning_days = 29), None);
    }
}
