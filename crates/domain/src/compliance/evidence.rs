//! The built-in evidence map: which features of this server evidence which
//! Annex A controls. Checks evidence the controls their definition names
//! (`CheckDefinition::controls`); the features are listed here. Each
//! claim is deliberately narrow: a feature is evidence that the technical
//! part of a control is implemented, never that the whole control is (the
//! tenant still sets the SoA status). `docs/compliance.md` gives the
//! reasoning per control.

use serde::Serialize;

/// A built-in feature and the controls it evidences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Feature {
    /// Stable snake_case key (the evidence `ref`).
    pub key: &'static str,
    pub description: &'static str,
    pub controls: &'static [&'static str],
}

pub static FEATURES: &[Feature] = &[
    Feature {
        key: "rbac",
        description: "Role-based access control: every route declares its permission; \
                      roles are fixed permission sets.",
        controls: &["5.15", "8.2", "8.3"],
    },
    Feature {
        key: "tenant_isolation",
        description: "Tenant scoping enforced below the handlers (row-level security on \
                      PostgreSQL).",
        controls: &["8.3"],
    },
    Feature {
        key: "access_policy",
        description: "Per-role network and time-of-day restrictions and MFA requirement.",
        controls: &["5.15", "8.5"],
    },
    Feature {
        key: "user_lifecycle",
        description: "User accounts with one identity each: creation, role change, \
                      deactivation, deletion, recorded access reviews.",
        controls: &["5.16", "5.18"],
    },
    Feature {
        key: "password_policy",
        description: "Password rules of NIST SP 800-63B (length, breached-password list), \
                      Argon2id hashing, generated passwords replaced at first login.",
        controls: &["5.17", "8.5"],
    },
    Feature {
        key: "mfa_totp",
        description: "TOTP multi-factor authentication with step-up for sensitive actions.",
        controls: &["5.17", "8.5"],
    },
    Feature {
        key: "login_lockout",
        description: "Account lockout and tiered rate limits on authentication.",
        controls: &["8.5"],
    },
    Feature {
        key: "sessions",
        description: "Server-side sessions, short-lived signed access tokens, rotating \
                      refresh tokens with reuse detection.",
        controls: &["8.5"],
    },
    Feature {
        key: "audit_log",
        description: "Append-only audit log per tenant in a Merkle tree with signed \
                      checkpoints, proofs and an offline verifier.",
        controls: &["8.15", "5.28", "5.33"],
    },
    Feature {
        key: "audit_alerts",
        description: "Risk scoring of audit events, security alerts and webhooks.",
        controls: &["8.16"],
    },
    Feature {
        key: "log_hygiene",
        description: "Logs and audit entries carry ids, never secrets or personal data in \
                      clear; secrets are redacted from debug output.",
        controls: &["8.12", "5.34"],
    },
    Feature {
        key: "encryption_at_rest",
        description: "Envelope encryption (AES-256-GCM) of personal data under keys bound \
                      to tenant and classification, AAD bound to table, column and row.",
        controls: &["8.24", "5.34"],
    },
    Feature {
        key: "key_management",
        description: "Versioned data keys wrapped by the master key: rotation, \
                      decrypt-only and retired states, usage caps.",
        controls: &["8.24"],
    },
    Feature {
        key: "crypto_shredding",
        description: "Erasure by destroying a data subject's key.",
        controls: &["8.10", "5.34"],
    },
    Feature {
        key: "gdpr_records",
        description: "Consent records, retention policies and data-subject requests with \
                      deadlines.",
        controls: &["5.34", "5.31"],
    },
    Feature {
        key: "asset_inventory",
        description: "Asset inventory with owners, CIA ratings and review dates.",
        controls: &["5.9"],
    },
    Feature {
        key: "classification",
        description: "Information classification (public, internal, confidential, \
                      restricted) that selects encryption keys and read permissions.",
        controls: &["5.12"],
    },
    Feature {
        key: "threat_register",
        description: "Threat register seeded from the ISO/IEC 27005 catalogue, used in risk \
                      assessment.",
        controls: &["5.7"],
    },
    Feature {
        key: "vulnerability_register",
        description: "Vulnerability register (CVE, CWE, severity) linked to assets and \
                      risk scores.",
        controls: &["8.8"],
    },
    Feature {
        key: "treatment_approval",
        description: "Treatments of HIGH and CRITICAL risks approved by someone other than \
                      their proposer.",
        controls: &["5.3"],
    },
    Feature {
        key: "health_checks",
        description: "Liveness and readiness endpoints, so a load balancer routes around a \
                      failing instance.",
        controls: &["8.14", "5.30"],
    },
    Feature {
        key: "scale_out",
        description: "Stateless instances on PostgreSQL and Redis; rate limits fall back to \
                      in-process counters when Redis is unreachable.",
        controls: &["8.14", "5.29", "5.30"],
    },
    Feature {
        key: "rate_limits",
        description: "Tiered request rate limits, body size limits and request timeouts.",
        controls: &["8.6"],
    },
    Feature {
        key: "config_validation",
        description: "Configuration validated at start-up and by `isms config check`; \
                      unknown keys refused.",
        controls: &["8.9"],
    },
    Feature {
        key: "compliance_monitor",
        description: "Scheduled compliance checks, signed compliance reports and the \
                      Statement of Applicability.",
        controls: &["5.36"],
    },
];

/// The features that evidence `control` (`8.5`).
pub fn features_for(control: &str) -> impl Iterator<Item = &'static Feature> + '_ {
    FEATURES
        .iter()
        .filter(move |f| f.controls.contains(&control))
}
