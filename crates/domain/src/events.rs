//! Security events: what the identity layer reports about itself. They are
//! published by application services (never by HTTP handlers) to every
//! subscriber: the structured log today, the audit log later.

use serde::Serialize;

use crate::ids::{SessionId, TenantId, UserId};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityEventKind {
    LoginSuccess,
    LoginFailure,
    Logout,
    TokenRefreshed,
    RefreshTokenReuse,
    SessionRevoked,
    SessionIpChanged,
    PasswordChanged,
    RoleChanged,
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserDeleted,
    AccessDenied,
    AccountLocked,
    AccountUnlocked,
    PasswordSprayDetected,
    MfaEnrollmentStarted,
    MfaEnrolled,
    MfaDisabled,
    MfaVerified,
    MfaFailed,
    MfaStepUp,
    RecoveryCodeUsed,
    AccessPolicyChanged,
    TenantCreated,
    TenantDeleted,
    SigningKeyRotated,
    AuditPolicyChanged,
    AlertAcknowledged,
    AuditVerified,
    AssetCreated,
    AssetUpdated,
    AssetDeleted,
    ThreatCreated,
    ThreatUpdated,
    ThreatDeleted,
    VulnerabilityCreated,
    VulnerabilityUpdated,
    VulnerabilityDeleted,
    ExposureCreated,
    ExposureDeleted,
    AssessmentRecorded,
    TreatmentUpdated,
    TreatmentApproved,
    KeyRotated,
    KeyRetired,
    KeysRewrapped,
    MasterKeyRotated,
    DataDecrypted,
    DecryptDenied,
    DecryptFailed,
    SubjectErased,
    TenantKeysDestroyed,
    DataExport,
    ComplianceRun,
    ComplianceCheckFailed,
    ComplianceConfigChanged,
    AccessReviewed,
    SoaUpdated,
    ConsentRecorded,
    ConsentWithdrawn,
    RetentionPolicyChanged,
    DataSubjectRequestCreated,
    DataSubjectRequestCompleted,
    DataSubjectRequestRejected,
    DataSubjectRequestStarted,
    RetentionEnforced,
    RiskMatrixChanged,
    ReportGenerated,
    SloBreach,
    SecurityBreach,
    DataBreach,
}

impl SecurityEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSuccess => "login_success",
            Self::LoginFailure => "login_failure",
            Self::Logout => "logout",
            Self::TokenRefreshed => "token_refreshed",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::SessionRevoked => "session_revoked",
            Self::SessionIpChanged => "session_ip_changed",
            Self::PasswordChanged => "password_changed",
            Self::RoleChanged => "role_changed",
            Self::UserCreated => "user_created",
            Self::UserUpdated => "user_updated",
            Self::UserDeactivated => "user_deactivated",
            Self::UserDeleted => "user_deleted",
            Self::AccessDenied => "access_denied",
            Self::AccountLocked => "account_locked",
            Self::AccountUnlocked => "account_unlocked",
            Self::PasswordSprayDetected => "password_spray_detected",
            Self::MfaEnrollmentStarted => "mfa_enrollment_started",
            Self::MfaEnrolled => "mfa_enrolled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaVerified => "mfa_verified",
            Self::MfaFailed => "mfa_failed",
            Self::MfaStepUp => "mfa_step_up",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::AccessPolicyChanged => "access_policy_changed",
            Self::TenantCreated => "tenant_created",
            Self::TenantDeleted => "tenant_deleted",
            Self::SigningKeyRotated => "signing_key_rotated",
            Self::AuditPolicyChanged => "audit_policy_changed",
            Self::AlertAcknowledged => "alert_acknowledged",
            Self::AuditVerified => "audit_verified",
            Self::AssetCreated => "asset_created",
            Self::AssetUpdated => "asset_updated",
            Self::AssetDeleted => "asset_deleted",
            Self::ThreatCreated => "threat_created",
            Self::ThreatUpdated => "threat_updated",
            Self::ThreatDeleted => "threat_deleted",
            Self::VulnerabilityCreated => "vulnerability_created",
            Self::VulnerabilityUpdated => "vulnerability_updated",
            Self::VulnerabilityDeleted => "vulnerability_deleted",
            Self::ExposureCreated => "exposure_created",
            Self::ExposureDeleted => "exposure_deleted",
            Self::AssessmentRecorded => "assessment_recorded",
            Self::TreatmentUpdated => "treatment_updated",
            Self::TreatmentApproved => "treatment_approved",
            Self::KeyRotated => "key_rotated",
            Self::KeyRetired => "key_retired",
            Self::KeysRewrapped => "keys_rewrapped",
            Self::MasterKeyRotated => "master_key_rotated",
            Self::DataDecrypted => "data_decrypted",
            Self::DecryptDenied => "decrypt_denied",
            Self::DecryptFailed => "decrypt_failed",
            Self::SubjectErased => "subject_erased",
            Self::TenantKeysDestroyed => "tenant_keys_destroyed",
            Self::DataExport => "data_export",
            Self::ComplianceRun => "compliance_run",
            Self::ComplianceCheckFailed => "compliance_check_failed",
            Self::ComplianceConfigChanged => "compliance_config_changed",
            Self::AccessReviewed => "access_reviewed",
            Self::SoaUpdated => "soa_updated",
            Self::ConsentRecorded => "consent_recorded",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::RetentionPolicyChanged => "retention_policy_changed",
            Self::DataSubjectRequestCreated => "data_subject_request_created",
            Self::DataSubjectRequestCompleted => "data_subject_request_completed",
            Self::DataSubjectRequestRejected => "data_subject_request_rejected",
            Self::DataSubjectRequestStarted => "data_subject_request_started",
            Self::RetentionEnforced => "retention_enforced",
            Self::RiskMatrixChanged => "risk_matrix_changed",
            Self::ReportGenerated => "report_generated",
            Self::SloBreach => "slo_breach",
            Self::SecurityBreach => "security_breach",
            Self::DataBreach => "data_breach",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// Where a request came from and which request it was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The caller's validated W3C `traceparent`, if it sent one.
    pub traceparent: Option<String>,
    /// The caller's validated `X-Amzn-Trace-Id`, if it sent one.
    pub amzn_trace_id: Option<String>,
}

impl RequestMeta {
    /// `details` with the request's trace ids added (as `traceparent` and
    /// `amzn_trace_id`), so an audit entry, and an alert's webhook, can be
    /// joined to the caller's distributed trace. Keys already present and
    /// details that are neither null nor an object are left alone.
    fn with_trace(&self, details: serde_json::Value) -> serde_json::Value {
        let trace = [
            ("traceparent", &self.traceparent),
            ("amzn_trace_id", &self.amzn_trace_id),
        ];
        if trace.iter().all(|(_, v)| v.is_none()) {
            return details;
        }
        let mut map = match details {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(m) => m,
            other => return other,
        };
        for (key, value) in trace {
            if let Some(v) = value {
                map.entry(key)
                    .or_insert_with(|| serde_json::Value::String(v.clone()));
            }
        }
        serde_json::Value::Object(map)
    }
}

/// One security event. Never carries secrets or personal data in clear:
/// users are named by id only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityEvent {
    pub kind: SecurityEventKind,
    pub at: Timestamp,
    pub outcome: Outcome,
    pub tenant_id: Option<TenantId>,
    pub actor_user_id: Option<UserId>,
    pub target_user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    #[serde(flatten)]
    pub meta: RequestMeta,
    /// Event-specific facts (e.g. the old and new role), free of secrets.
    pub details: serde_json::Value,
}

impl SecurityEvent {
    pub fn new(kind: SecurityEventKind, outcome: Outcome, meta: &RequestMeta) -> Self {
        Self {
            kind,
            at: crate::time::now(),
            outcome,
            tenant_id: None,
            actor_user_id: None,
            target_user_id: None,
            session_id: None,
            meta: meta.clone(),
            details: meta.with_trace(serde_json::Value::Null),
        }
    }

    pub fn tenant(mut self, id: TenantId) -> Self {
        self.tenant_id = Some(id);
        self
    }
    pub fn actor(mut self, id: UserId) -> Self {
        self.actor_user_id = Some(id);
        self
    }
    pub fn target(mut self, id: UserId) -> Self {
        self.target_user_id = Some(id);
        self
    }
    pub fn session(mut self, id: SessionId) -> Self {
        self.session_id = Some(id);
        self
    }
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = self.meta.with_trace(details);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_travel_in_the_details() {
        let plain = RequestMeta::default();
        let e = SecurityEvent::new(SecurityEventKind::Logout, Outcome::Success, &plain);
        assert!(e.details.is_null());
        let traced = RequestMeta {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..RequestMeta::default()
        };
        let e = SecurityEvent::new(SecurityEventKind::Logout, Outcome::Success, &traced);
        assert_eq!(
            e.details,
            serde_json::json!({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        );
        let e = e.details(serde_json::json!({"role": "admin"}));
        assert_eq!(e.details["role"], "admin");
        assert!(e.details["traceparent"].is_string());
        assert!(e.details.get("amzn_trace_id").is_none());
        // Non-object details are not rewritten.
        let e = SecurityEvent::new(SecurityEventKind::Logout, Outcome::Success, &traced)
            .details(serde_json::json!([1]));
        assert_eq!(e.details, serde_json::json!([1]));
    }
}
