//! The data checks against seeded snapshots: `encryption_compliance`,
//! `audit_log_integrity`, `gdpr_compliance`, `key_rotation`,
//! `risk_review`, each passing, warning and failing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance_fixtures;

use chrono::Duration;
use compliance_fixtures::*;
use isms_domain::audit::{FailureKind, LogId, VerifyFailure, VerifyReport};
use isms_domain::compliance::rules::*;
use isms_domain::compliance::*;
use isms_domain::crypto::{Classification, DataKeyMeta, KeyPolicy, KeyRef, KeyState};
use isms_domain::risk::{AssetId, RiskId, RiskLevel};
use isms_domain::{TenantId, UserId};

// ---- encryption_compliance ------------------------------------------------

fn column(table: &str, column: &str) -> ColumnCounts {
    ColumnCounts {
        table: table.into(),
        column: column.into(),
        plaintext: 0,
        retired_key: 0,
        over_age: 0,
        superseded: 0,
        ok: 100,
    }
}

fn columns() -> EncryptionInput {
    EncryptionInput {
        columns: vec![column("users", "email"), column("assets", "description")],
    }
}

#[test]
fn encryption_passes_when_everything_is_under_primary_keys() {
    let r = encryption_compliance(&columns(), &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.details["totals"]["ok"], 200);
    assert_eq!(r.details["columns_checked"], 2);
    assert_eq!(r.controls, vec!["8.24", "5.34"]);
}

#[test]
fn superseded_key_versions_warn() {
    let mut input = columns();
    input.columns[0].superseded = 3;
    let r = encryption_compliance(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(r.details["columns"][0]["table"], "users");
    assert_eq!(r.details["columns"][0]["superseded"], 3);
}

#[test]
fn no_column_scanned_warns() {
    let r = encryption_compliance(&EncryptionInput::default(), &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert!(r.message.contains("no sensitive column"));
}

#[test]
fn plaintext_retired_or_over_age_fail_with_counts_per_column() {
    for field in ["plaintext", "retired_key", "over_age"] {
        let mut input = columns();
        let c = &mut input.columns[1];
        match field {
            "plaintext" => c.plaintext = 2,
            "retired_key" => c.retired_key = 2,
            _ => c.over_age = 2,
        }
        let r = encryption_compliance(&input, &cfg(), now());
        assert_eq!(r.status, CheckStatus::Failed, "{field}");
        assert_eq!(r.details["columns_with_findings"], 1);
        let row = &r.details["columns"][0];
        assert_eq!(
            (row["table"].as_str(), row["column"].as_str()),
            (Some("assets"), Some("description"))
        );
        assert_eq!(row[field], 2);
        assert_eq!(r.details["totals"][field], 2);
    }
}

// ---- audit_log_integrity --------------------------------------------------

fn log(entries: u64, checkpoints: u64) -> LogVerification {
    LogVerification {
        log_id: LogId::tenant(TenantId::new()).to_string(),
        entries,
        checkpoints_checked: checkpoints,
        first_failure: None,
    }
}

#[test]
fn audit_integrity_passes_when_every_log_verifies() {
    let input = AuditIntegrityInput {
        logs: vec![log(100, 3), log(0, 0)],
    };
    let r = audit_log_integrity(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(r.details["entries"], 100);
    assert_eq!(r.details["checkpoints_checked"], 3);
}

#[test]
fn entries_without_a_checkpoint_or_no_log_warn() {
    let input = AuditIntegrityInput {
        logs: vec![log(100, 3), log(5, 0)],
    };
    let r = audit_log_integrity(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(r.details["logs_without_checkpoint"]["count"], 1);
    let r = audit_log_integrity(&AuditIntegrityInput::default(), &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
}

#[test]
fn a_tampered_log_fails_with_the_first_bad_seq() {
    let mut bad = log(100, 2);
    bad.first_failure = Some(IntegrityFailure {
        seq: Some(42),
        kind: FailureKind::EntryModified,
    });
    let bad_id = bad.log_id.clone();
    let mut sig = log(10, 1);
    sig.first_failure = Some(IntegrityFailure {
        seq: None,
        kind: FailureKind::CheckpointSignature,
    });
    let input = AuditIntegrityInput {
        logs: vec![log(7, 1), bad, sig],
    };
    let r = audit_log_integrity(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.details["first_bad_seq"], 42);
    assert_eq!(r.details["failing_logs"], 2);
    assert_eq!(r.details["failures"][0]["kind"], "entry_modified");
    assert_eq!(r.details["failures"][1]["kind"], "checkpoint_signature");
    assert!(
        r.message
            .contains(&format!("{bad_id} at seq 42 (entry_modified)")),
        "{}",
        r.message
    );
}

#[test]
fn verifier_reports_convert() {
    let report = VerifyReport {
        log_id: LogId::server(),
        entries: 9,
        checkpoints_checked: 2,
        root_hash: [0u8; 32],
        first_failure: Some(VerifyFailure {
            seq: Some(4),
            kind: FailureKind::EntryMissing,
            message: "gap".into(),
        }),
    };
    let v = LogVerification::from(&report);
    assert_eq!(v.log_id, "server");
    assert_eq!(
        v.first_failure.map(|f| (f.seq, f.kind)),
        Some((Some(4), FailureKind::EntryMissing))
    );
}

// ---- gdpr_compliance ------------------------------------------------------

fn request(kind: DsrKind, age_days: i64) -> PendingRequest {
    PendingRequest {
        id: DsrId::new(),
        kind,
        created_at: days_ago(age_days),
    }
}

#[test]
fn gdpr_passes_with_consent_no_backlog_and_young_requests() {
    let input = GdprInput {
        pending_requests: vec![request(DsrKind::Export, 3), request(DsrKind::Erasure, 10)],
        ..GdprInput::default()
    };
    let r = gdpr_compliance(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.details["requests_pending"], 2);
}

#[test]
fn requests_near_the_deadline_warn_and_past_it_fail() {
    let c = cfg();
    let run = |age| {
        let input = GdprInput {
            pending_requests: vec![request(DsrKind::Erasure, age)],
            ..GdprInput::default()
        };
        gdpr_compliance(&input, &c, now())
    };
    assert_eq!(run(22).status, CheckStatus::Passed);
    assert_eq!(run(23).status, CheckStatus::Warning, "7 days left");
    assert_eq!(
        run(30).status,
        CheckStatus::Warning,
        "due today, not yet beyond"
    );
    let late = run(31);
    assert_eq!(late.status, CheckStatus::Failed);
    assert_eq!(late.details["requests_overdue_by_kind"]["erasure"], 1);
    assert_eq!(listed_count(&late.details, "requests_overdue"), 1);

    let input = GdprInput {
        pending_requests: vec![PendingRequest {
            created_at: days_ago(30) - Duration::seconds(1),
            ..request(DsrKind::Export, 0)
        }],
        ..GdprInput::default()
    };
    let r = gdpr_compliance(&input, &c, now());
    assert_eq!(r.status, CheckStatus::Failed, "one second beyond 30 days");
    assert_eq!(r.details["requests_overdue_by_kind"]["export"], 1);
}

#[test]
fn processing_without_consent_fails_and_lists_only_user_ids() {
    let u = UserId::new();
    let input = GdprInput {
        subjects_without_consent: vec![
            DataSubject::User(u),
            DataSubject::external("crm-4711").unwrap(),
        ],
        ..GdprInput::default()
    };
    let r = gdpr_compliance(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.details["without_consent"]["count"], 2);
    assert_eq!(r.details["without_consent"]["external_subjects"], 1);
    assert_eq!(
        r.details["without_consent"]["users"]["ids"][0].as_str(),
        Some(u.to_string().as_str())
    );
    assert!(!r.details.to_string().contains("crm-4711"));
}

#[test]
fn records_past_retention_warn_then_fail_after_the_grace_period() {
    let run = |expired_days_ago| {
        let input = GdprInput {
            past_retention: vec![RetentionBacklog {
                category: "support_tickets".into(),
                records: 12,
                oldest_expired_at: days_ago(expired_days_ago),
            }],
            ..GdprInput::default()
        };
        gdpr_compliance(&input, &cfg(), now())
    };
    let r = run(2);
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(r.details["past_retention"]["records"], 12);
    assert_eq!(
        r.details["past_retention"]["categories"][0]["category"],
        "support_tickets"
    );
    assert_eq!(
        run(7).status,
        CheckStatus::Warning,
        "exactly the grace period"
    );
    assert_eq!(run(8).status, CheckStatus::Failed);
}

// ---- key_rotation ---------------------------------------------------------

fn key(state: KeyState, age_days: i64) -> KeyVersionInfo {
    KeyVersionInfo {
        id: format!("tenant:x/confidential/v{age_days}"),
        state,
        created_at: days_ago(age_days),
    }
}

#[test]
fn key_rotation_passes_with_young_primaries() {
    let input = KeyRotationInput {
        keys: vec![
            key(KeyState::Primary, 10),
            key(KeyState::Active, 200),
            key(KeyState::Retired, 400),
        ],
    };
    let r = key_rotation(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.details["primary_keys"], 1);
    assert_eq!(r.details["oldest_primary_age_days"], 10);
}

#[test]
fn primaries_near_the_period_warn_and_beyond_it_fail() {
    let run = |age| {
        key_rotation(
            &KeyRotationInput {
                keys: vec![key(KeyState::Primary, age)],
            },
            &cfg(),
            now(),
        )
    };
    assert_eq!(run(75).status, CheckStatus::Passed);
    assert_eq!(run(76).status, CheckStatus::Warning, "14 days left");
    assert_eq!(run(90).status, CheckStatus::Warning, "exactly the period");
    let r = run(91);
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.details["overdue"]["ids"][0], "tenant:x/confidential/v91");
}

#[test]
fn data_key_metadata_converts() {
    let policy = KeyPolicy::new(1000, std::time::Duration::from_secs(90 * 86_400)).unwrap();
    let meta = DataKeyMeta::new_primary(
        KeyRef::new(TenantId::new(), Classification::Restricted, 1),
        days_ago(100),
        &policy,
    );
    let info = KeyVersionInfo::from(&meta);
    assert_eq!(info.state, KeyState::Primary);
    assert!(info.id.ends_with("/restricted/v1"));
    let r = key_rotation(&KeyRotationInput { keys: vec![info] }, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
}

// ---- risk_review ----------------------------------------------------------

fn asset_due(days_from_now: i64) -> AssetReview {
    AssetReview {
        id: AssetId::new(),
        next_assessment_due: Some(now() + Duration::days(days_from_now)),
    }
}

fn risk(level: RiskLevel, approved: bool) -> RiskTreatmentState {
    RiskTreatmentState {
        id: RiskId::new(),
        asset_id: AssetId::new(),
        level,
        treatment_approved: approved,
    }
}

#[test]
fn risk_review_passes_when_on_schedule_and_treated() {
    let input = RiskReviewInput {
        assets: vec![asset_due(10), asset_due(0)],
        risks: vec![
            risk(RiskLevel::Critical, true),
            risk(RiskLevel::High, true),
            risk(RiskLevel::Medium, false),
            risk(RiskLevel::Low, false),
        ],
    };
    let r = risk_review(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.details["risks_per_level"]["medium"], 1);
}

#[test]
fn overdue_or_unscheduled_assessments_warn() {
    let overdue = AssetReview {
        next_assessment_due: Some(now() - Duration::seconds(1)),
        ..asset_due(0)
    };
    let unscheduled = AssetReview {
        id: AssetId::new(),
        next_assessment_due: None,
    };
    let input = RiskReviewInput {
        assets: vec![asset_due(5), overdue.clone(), unscheduled.clone()],
        risks: vec![],
    };
    let r = risk_review(&input, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(
        ids(&r.details, "assessment_overdue"),
        vec![overdue.id.to_string()]
    );
    assert_eq!(
        ids(&r.details, "assessment_unscheduled"),
        vec![unscheduled.id.to_string()]
    );
}

#[test]
fn untreated_critical_or_high_risks_fail() {
    for level in [RiskLevel::Critical, RiskLevel::High] {
        let r0 = risk(level, false);
        let input = RiskReviewInput {
            assets: vec![asset_due(5)],
            risks: vec![r0.clone(), risk(RiskLevel::Low, false)],
        };
        let r = risk_review(&input, &cfg(), now());
        assert_eq!(r.status, CheckStatus::Failed, "{level}");
        let key = if level == RiskLevel::Critical {
            "untreated_critical"
        } else {
            "untreated_high"
        };
        assert_eq!(ids(&r.details, key), vec![r0.id.to_string()]);
    }
}

// ---- every rule -----------------------------------------------------------

#[test]
fn details_never_hold_floats() {
    fn no_floats(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => n.is_i64() || n.is_u64(),
            serde_json::Value::Array(a) => a.iter().all(no_floats),
            serde_json::Value::Object(o) => o.values().all(no_floats),
            _ => true,
        }
    }
    let results = [
        encryption_compliance(&columns(), &cfg(), now()),
        audit_log_integrity(
            &AuditIntegrityInput {
                logs: vec![log(3, 1)],
            },
            &cfg(),
            now(),
        ),
        gdpr_compliance(&GdprInput::default(), &cfg(), now()),
        key_rotation(
            &KeyRotationInput {
                keys: vec![key(KeyState::Primary, 5)],
            },
            &cfg(),
            now(),
        ),
        risk_review(&RiskReviewInput::default(), &cfg(), now()),
        password_policy(&[user(isms_domain::Role::Admin)], &cfg(), now()),
    ];
    for r in &results {
        assert!(no_floats(&r.details), "{}: {}", r.check, r.details);
    }
}

#[test]
fn severity_comes_from_the_tenant_configuration() {
    let mut c = cfg();
    c.checks.get_mut(CheckId::EncryptionCompliance).severity = Severity::Critical;
    let r = encryption_compliance(&columns(), &c, now());
    assert_eq!(r.severity, Severity::Critical);
}

#[test]
fn rules_do_not_panic_on_an_unvalidated_configuration() {
    let mut c = cfg();
    c.thresholds.key_rotation_warning_days = 500;
    c.thresholds.dsr_warning_days = 500;
    c.thresholds.max_admins = 0;
    assert!(c.validate().is_err());
    let r = key_rotation(
        &KeyRotationInput {
            keys: vec![key(KeyState::Primary, 1)],
        },
        &c,
        now(),
    );
    assert_eq!(r.status, CheckStatus::Warning);
    let g = GdprInput {
        pending_requests: vec![request(DsrKind::Access, 0)],
        ..GdprInput::default()
    };
    assert_eq!(gdpr_compliance(&g, &c, now()).status, CheckStatus::Warning);
    let admins = admin_count(&[user(isms_domain::Role::Admin)], &c, now());
    assert_eq!(admins.status, CheckStatus::Warning);
}
