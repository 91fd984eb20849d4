//! Event risk scores, compliance flags and alerts (the ISMS implementation
//! guide's rules). The score table is data: a tenant may override it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::entry::ComplianceFlag;
use crate::access_policy::AllowedHours;
use crate::time::Timestamp;

/// What kind of event a type is, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCategory {
    LoginSuccess,
    LoginFailure,
    PasswordChange,
    UnauthorizedAccess,
    DataExport,
    AdminAction,
    SecurityConfigChange,
    Unknown,
}

impl RiskCategory {
    pub const ALL: [RiskCategory; 8] = [
        Self::LoginSuccess,
        Self::LoginFailure,
        Self::PasswordChange,
        Self::UnauthorizedAccess,
        Self::DataExport,
        Self::AdminAction,
        Self::SecurityConfigChange,
        Self::Unknown,
    ];
}

/// The category of an event type. Creating, changing or deleting domain
/// objects (`*_created`, `*_updated`, `*_deleted`, ...) is an admin action;
/// changes to security configuration and keys weigh most.
pub fn category_of(event_type: &str) -> RiskCategory {
    use RiskCategory as C;
    match event_type {
        "login_success" | "mfa_verified" | "token_refreshed" | "logout" => C::LoginSuccess,
        "login_failure"
        | "mfa_failed"
        | "refresh_token_reuse"
        | "account_locked"
        | "password_spray_detected" => C::LoginFailure,
        "password_changed" => C::PasswordChange,
        "access_denied" | "unauthorized_access" | "decrypt_denied" => C::UnauthorizedAccess,
        "data_export" => C::DataExport,
        "access_policy_changed"
        | "audit_policy_changed"
        | "mfa_disabled"
        | "key_rotated"
        | "signing_key_rotated"
        | "master_key_rotated"
        | "key_retired"
        | "tenant_keys_destroyed" => C::SecurityConfigChange,
        t if t.ends_with("_created")
            || t.ends_with("_updated")
            || t.ends_with("_deleted")
            || t.ends_with("_deactivated")
            || t == "role_changed"
            || t == "account_unlocked"
            || t == "session_revoked"
            || t == "alert_acknowledged" =>
        {
            C::AdminAction
        }
        _ => C::Unknown,
    }
}

/// Base scores per category and the context bonuses; the result is capped
/// at 10.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskTable {
    pub base: BTreeMap<RiskCategory, u8>,
    pub suspicious_ip_bonus: u8,
    pub off_hours_bonus: u8,
    pub repeated_failures_bonus: u8,
}

impl Default for RiskTable {
    fn default() -> Self {
        use RiskCategory as C;
        Self {
            base: [
                (C::LoginSuccess, 1),
                (C::LoginFailure, 3),
                (C::PasswordChange, 2),
                (C::UnauthorizedAccess, 8),
                (C::DataExport, 5),
                (C::AdminAction, 6),
                (C::SecurityConfigChange, 9),
                (C::Unknown, 1),
            ]
            .into_iter()
            .collect(),
            suspicious_ip_bonus: 3,
            off_hours_bonus: 2,
            repeated_failures_bonus: 2,
        }
    }
}

pub const MAX_RISK: u8 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AuditPolicyError {
    pub field: String,
    pub message: String,
}

/// A tenant's audit policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditPolicy {
    /// Sources whose events score higher.
    pub suspicious_ips: Vec<ipnet::IpNet>,
    /// Outside these hours events score higher (none: no off-hours bonus).
    pub business_hours: Option<AllowedHours>,
    pub risk_table: RiskTable,
    /// Failures of the same actor or IP in the last 15 minutes from which
    /// an event counts as following repeated failures.
    pub repeated_failure_threshold: u32,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        Self {
            suspicious_ips: Vec::new(),
            business_hours: None,
            risk_table: RiskTable::default(),
            repeated_failure_threshold: 3,
        }
    }
}

impl AuditPolicy {
    pub fn validate(&self) -> Result<(), AuditPolicyError> {
        let err = |field: &str, message: &str| AuditPolicyError {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        if self.suspicious_ips.len() > 1000 {
            return Err(err("suspicious_ips", "at most 1000 networks"));
        }
        let t = &self.risk_table;
        for (c, v) in &t.base {
            if *v > MAX_RISK {
                return Err(err(
                    &format!(
                        "risk_table.base.{}",
                        serde_json::to_value(c)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    ),
                    "scores are 0..10",
                ));
            }
        }
        for (name, v) in [
            ("suspicious_ip_bonus", t.suspicious_ip_bonus),
            ("off_hours_bonus", t.off_hours_bonus),
            ("repeated_failures_bonus", t.repeated_failures_bonus),
        ] {
            if v > MAX_RISK {
                return Err(err(&format!("risk_table.{name}"), "scores are 0..10"));
            }
        }
        if let Some(h) = &self.business_hours {
            if h.weekdays.is_empty() {
                return Err(err("business_hours.weekdays", "name at least one weekday"));
            }
            if h.from == h.to {
                return Err(err("business_hours.to", "the window is empty"));
            }
        }
        if self.repeated_failure_threshold == 0 {
            return Err(err("repeated_failure_threshold", "at least 1"));
        }
        Ok(())
    }
}

/// What is known about an event when it is scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskContext {
    pub ip: Option<IpAddr>,
    pub at: Timestamp,
    /// Failed or denied events of the same actor or IP just before.
    pub recent_failures: u32,
}

/// The event's risk score, 0..=10.
pub fn score(policy: &AuditPolicy, event_type: &str, ctx: &RiskContext) -> u8 {
    let t = &policy.risk_table;
    let base = t
        .base
        .get(&category_of(event_type))
        .copied()
        .or_else(|| t.base.get(&RiskCategory::Unknown).copied())
        .unwrap_or(1);
    let mut s = u32::from(base);
    if ctx
        .ip
        .is_some_and(|ip| crate::net::in_any(&policy.suspicious_ips, ip))
    {
        s += u32::from(t.suspicious_ip_bonus);
    }
    if policy
        .business_hours
        .as_ref()
        .is_some_and(|h| !h.allows(ctx.at))
    {
        s += u32::from(t.off_hours_bonus);
    }
    if ctx.recent_failures >= policy.repeated_failure_threshold {
        s += u32::from(t.repeated_failures_bonus);
    }
    u8::try_from(s.min(u32::from(MAX_RISK))).unwrap_or(MAX_RISK)
}

/// What the flag rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlagInput {
    /// Personal data was accessed, exported or processed.
    pub personal_data: bool,
    /// Whether a consent is recorded for that data subject (`None`: not
    /// applicable or unknown).
    pub consent_recorded: Option<bool>,
    /// The resource is classified financial.
    pub financial: bool,
    /// The action modifies or deletes.
    pub modifies: bool,
    /// The access was not authorised.
    pub unauthorized: bool,
}

pub fn flags_for(i: &FlagInput) -> Vec<ComplianceFlag> {
    let mut out = Vec::new();
    if i.personal_data {
        out.push(ComplianceFlag::GdprProcessing);
        if i.consent_recorded == Some(false) {
            out.push(ComplianceFlag::GdprConsentMissing);
        }
    }
    if i.financial {
        out.push(ComplianceFlag::SoxFinancialData);
        if i.modifies {
            out.push(ComplianceFlag::SoxChangeControl);
        }
    }
    if i.unauthorized {
        out.push(ComplianceFlag::Iso27001AccessViolation);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertSeverity {
    #[serde(rename = "CRITICAL")]
    Critical,
    #[serde(rename = "HIGH")]
    High,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDraft {
    pub severity: AlertSeverity,
    pub description: String,
    pub required_actions: Vec<String>,
}

/// Score from which an event is critical.
pub const ALERT_THRESHOLD: u8 = 8;

/// An alert for a critical event: risk ≥ 8, an access violation, a
/// breach, or a breached service-level objective. CRITICAL from risk 9 and
/// for breaches, else HIGH.
///
/// An SLO breach (`slo_breach`) always alerts but stays HIGH: it is an
/// availability incident (ISO 27001 A.5.30) to investigate with enhanced
/// monitoring, not a confirmed compromise calling for incident response.
/// Its risk score is left to the table (category `unknown`), so the entry
/// does not claim a security risk it does not carry.
pub fn alert_for(event_type: &str, risk: u8, flags: &[ComplianceFlag]) -> Option<AlertDraft> {
    let breach = matches!(event_type, "security_breach" | "data_breach");
    let slo = event_type == "slo_breach";
    // Emitted only for a failed CRITICAL compliance check (the monitor's
    // own judgement, not a risk score): always a CRITICAL alert.
    let failed_check = event_type == "compliance_check_failed";
    let violation = flags.contains(&ComplianceFlag::Iso27001AccessViolation);
    if risk < ALERT_THRESHOLD && !violation && !breach && !slo && !failed_check {
        return None;
    }
    let critical = risk >= 9 || breach || failed_check;
    let mut required_actions = vec![
        "immediate investigation".to_owned(),
        "stakeholder notification".to_owned(),
    ];
    required_actions.push(if critical {
        "incident response activation".to_owned()
    } else {
        "enhanced monitoring".to_owned()
    });
    let reason = if breach {
        "a reported breach".to_owned()
    } else if failed_check {
        "a CRITICAL compliance check failed".to_owned()
    } else if slo && risk < ALERT_THRESHOLD {
        "a breached service-level objective".to_owned()
    } else if violation && risk < ALERT_THRESHOLD {
        "an access violation".to_owned()
    } else {
        format!("risk score {risk}")
    };
    Some(AlertDraft {
        severity: if critical {
            AlertSeverity::Critical
        } else {
            AlertSeverity::High
        },
        description: format!("Critical security event `{event_type}`: {reason}."),
        required_actions,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ctx() -> RiskContext {
        RiskContext {
            ip: Some("192.0.2.10".parse().unwrap()),
            at: chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            recent_failures: 0,
        }
    }

    #[test]
    fn base_scores_follow_the_guide() {
        let p = AuditPolicy::default();
        for (t, s) in [
            ("login_success", 1),
            ("login_failure", 3),
            ("password_changed", 2),
            ("access_denied", 8),
            ("data_export", 5),
            ("role_changed", 6),
            ("asset_created", 6),
            ("access_policy_changed", 9),
            ("something_new", 1),
        ] {
            assert_eq!(score(&p, t, &ctx()), s, "{t}");
        }
    }

    #[test]
    fn bonuses_add_up_and_cap_at_ten() {
        let mut p = AuditPolicy {
            suspicious_ips: vec!["192.0.2.0/24".parse().unwrap()],
            ..AuditPolicy::default()
        };
        assert_eq!(score(&p, "login_failure", &ctx()), 6);
        let repeated = RiskContext {
            recent_failures: 3,
            ..ctx()
        };
        assert_eq!(score(&p, "login_failure", &repeated), 8);
        let below = RiskContext {
            recent_failures: 2,
            ..ctx()
        };
        assert_eq!(score(&p, "login_failure", &below), 6);
        // 2026-12-02 is a Wednesday; business hours on Mondays only.
        p.business_hours = serde_json::from_value(serde_json::json!({
            "time_zone": "UTC", "weekdays": ["mon"], "from": "08:00", "to": "18:00"
        }))
        .unwrap();
        assert_eq!(score(&p, "login_failure", &repeated), 10);
        assert_eq!(score(&p, "access_policy_changed", &repeated), 10);
    }

    #[test]
    fn flags_follow_the_rules() {
        assert!(flags_for(&FlagInput::default()).is_empty());
        assert_eq!(
            flags_for(&FlagInput {
                personal_data: true,
                consent_recorded: Some(false),
                ..FlagInput::default()
            }),
            vec![
                ComplianceFlag::GdprProcessing,
                ComplianceFlag::GdprConsentMissing
            ]
        );
        assert_eq!(
            flags_for(&FlagInput {
                personal_data: true,
                consent_recorded: Some(true),
                ..FlagInput::default()
            }),
            vec![ComplianceFlag::GdprProcessing]
        );
        assert_eq!(
            flags_for(&FlagInput {
                financial: true,
                modifies: true,
                unauthorized: true,
                ..FlagInput::default()
            }),
            vec![
                ComplianceFlag::SoxFinancialData,
                ComplianceFlag::SoxChangeControl,
                ComplianceFlag::Iso27001AccessViolation
            ]
        );
        assert_eq!(
            flags_for(&FlagInput {
                financial: true,
                ..FlagInput::default()
            }),
            vec![ComplianceFlag::SoxFinancialData]
        );
    }

    #[test]
    fn alerts_at_the_boundaries() {
        assert_eq!(alert_for("login_failure", 7, &[]), None);
        let high = alert_for("x", 8, &[]).unwrap();
        assert_eq!(high.severity, AlertSeverity::High);
        assert!(
            high.required_actions
                .contains(&"enhanced monitoring".to_owned())
        );
        let critical = alert_for("x", 9, &[]).unwrap();
        assert_eq!(critical.severity, AlertSeverity::Critical);
        assert!(
            critical
                .required_actions
                .contains(&"incident response activation".to_owned())
        );
        assert!(
            critical
                .required_actions
                .contains(&"immediate investigation".to_owned())
        );
        assert!(
            critical
                .required_actions
                .contains(&"stakeholder notification".to_owned())
        );
        let v = alert_for("x", 2, &[ComplianceFlag::Iso27001AccessViolation]).unwrap();
        assert_eq!(v.severity, AlertSeverity::High);
        assert_eq!(
            alert_for("data_breach", 1, &[]).unwrap().severity,
            AlertSeverity::Critical
        );
        let failed = alert_for("compliance_check_failed", 1, &[]).unwrap();
        assert_eq!(failed.severity, AlertSeverity::Critical);
        let slo = alert_for("slo_breach", 1, &[]).unwrap();
        assert_eq!(slo.severity, AlertSeverity::High);
        assert!(
            slo.required_actions
                .contains(&"enhanced monitoring".to_owned())
        );
        assert!(slo.description.contains("service-level objective"));
    }

    #[test]
    fn policies_validate() {
        assert!(AuditPolicy::default().validate().is_ok());
        let mut p = AuditPolicy::default();
        p.risk_table.base.insert(RiskCategory::Unknown, 11);
        assert!(p.validate().is_err());
        let p = AuditPolicy {
            repeated_failure_threshold: 0,
            ..AuditPolicy::default()
        };
        assert!(p.validate().is_err());
        let parsed: Result<AuditPolicy, _> = serde_json::from_value(serde_json::json!({"nope": 1}));
        assert!(parsed.is_err());
    }
}
