//! Compliance reports: building, recommendations, signing and
//! verification (and tampering), CSV.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance_fixtures;

use chrono::Duration;
use compliance_fixtures::*;
use ed25519_dalek::SigningKey;
use isms_domain::TenantId;
use isms_domain::compliance::*;
use isms_domain::risk::{AssetId, RiskId, RiskLevel};

/// One way to tamper with a signed report.
type Edit = Box<dyn Fn(&mut SignedReport)>;

const SECRET: [u8; 32] = [7u8; 32];
const KEY: &str = "isms.test/reports";

fn public() -> [u8; 32] {
    SigningKey::from_bytes(&SECRET).verifying_key().to_bytes()
}

fn top(score: u32, level: RiskLevel) -> TopRisk {
    TopRisk {
        id: RiskId::new(),
        asset_id: AssetId::new(),
        asset: "Customer database".into(),
        score,
        level,
    }
}

fn report() -> ComplianceReport {
    let mut results: Vec<CheckResult> = CheckId::ALL
        .iter()
        .map(|c| result(*c, CheckStatus::Passed))
        .collect();
    results[3] = result(CheckId::AuditLogIntegrity, CheckStatus::Failed);
    results[1] = result(CheckId::AccessReviews, CheckStatus::Warning);
    results[0] = result(CheckId::PasswordPolicy, CheckStatus::Failed);
    results[0].details = serde_json::json!({"users_checked": 4, "ids": ["a", "b"]});
    results.reverse();
    let risks = RiskSummary::from_risks(
        vec![
            top(12, RiskLevel::High),
            top(20, RiskLevel::Critical),
            top(4, RiskLevel::Low),
            top(12, RiskLevel::High),
        ],
        3,
    );
    let audit = AuditSummary {
        events: 1234,
        alerts: 5,
        integrity_ok: false,
        checkpoint: ReportCheckpoint::new(1234, &[9u8; 32]),
    };
    build_report(TenantId::new(), results, risks, audit, now())
}

#[test]
fn report_fields() {
    let r = report();
    assert_eq!(r.generated_at, now());
    assert_eq!(r.period_end, now());
    assert_eq!(r.period_start, now() - Duration::days(30));
    assert_eq!(
        r.next_review_date,
        (now() + Duration::days(30)).date_naive()
    );
    assert_eq!(r.overall_status, OverallStatus::NonCompliant);
    // 6/9 × 100 − 10 − 2 × 2 = 52.666… → 52.7
    assert_eq!(r.score.to_string(), "52.7");
    assert_eq!(r.critical_issues.len(), 1);
    assert_eq!(r.warnings.len(), 2);
    let order: Vec<CheckId> = r.results.iter().map(|x| x.check).collect();
    assert_eq!(order, CheckId::ALL.to_vec(), "results in check order");
    assert_eq!(r.risk_summary.counts.high, 2);
    assert_eq!(r.risk_summary.counts.critical, 1);
    assert_eq!(r.risk_summary.top_risks.len(), 3);
    assert_eq!(r.risk_summary.top_risks[0].score, 20);
    assert_eq!(r.audit_summary.checkpoint.tree_size, 1234);
}

#[test]
fn recommendations_are_deduplicated_and_ordered_by_severity() {
    let mut rs = vec![
        result_at(CheckId::AdminCount, CheckStatus::Warning, Severity::Low),
        result_at(
            CheckId::DormantAccounts,
            CheckStatus::Warning,
            Severity::Medium,
        ),
        result_at(
            CheckId::AuditLogIntegrity,
            CheckStatus::Failed,
            Severity::Critical,
        ),
        result(CheckId::KeyRotation, CheckStatus::Passed),
    ];
    let same = "Deactivate dormant accounts.".to_owned();
    rs[0].recommendation = Some(same.clone());
    rs[1].recommendation = Some(same.clone());
    let recs = recommendations(&rs);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].severity, Severity::Critical);
    assert_eq!(recs[0].checks, vec![CheckId::AuditLogIntegrity]);
    assert_eq!(recs[1].text, same);
    assert_eq!(
        recs[1].severity,
        Severity::Medium,
        "the highest of the checks giving it"
    );
    assert_eq!(
        recs[1].checks,
        vec![CheckId::DormantAccounts, CheckId::AdminCount]
    );
}

#[test]
fn signed_report_verifies_and_survives_a_json_round_trip() {
    let signed = sign_report(&report(), KEY, &SECRET).unwrap();
    assert_eq!(verify_report(&signed, &public()), Ok(()));
    assert!(signed.key_id.starts_with("isms.test/reports+"));
    assert_eq!(signed.checkpoint, signed.report.audit_summary.checkpoint);
    let json = serde_json::to_string(&signed).unwrap();
    let back: SignedReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, signed);
    assert_eq!(verify_report(&back, &public()), Ok(()));
}

#[test]
fn editing_any_field_breaks_the_signature() {
    let signed = sign_report(&report(), KEY, &SECRET).unwrap();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "score",
            Box::new(|s| s.report.score = Score::from_tenths(999).unwrap()),
        ),
        (
            "status",
            Box::new(|s| s.report.overall_status = OverallStatus::Compliant),
        ),
        (
            "result",
            Box::new(|s| s.report.results[0].status = CheckStatus::Passed),
        ),
        (
            "details",
            Box::new(|s| s.report.results[0].details["users_checked"] = 5.into()),
        ),
        (
            "message",
            Box::new(|s| s.report.results[2].message.push('.')),
        ),
        (
            "review date",
            Box::new(|s| s.report.next_review_date = s.report.next_review_date.succ_opt().unwrap()),
        ),
        ("alerts", Box::new(|s| s.report.audit_summary.alerts = 0)),
        (
            "top risk",
            Box::new(|s| s.report.risk_summary.top_risks.pop().map(|_| ()).unwrap()),
        ),
    ];
    for (what, edit) in edits {
        let mut s = signed.clone();
        edit(&mut s);
        assert_eq!(
            verify_report(&s, &public()),
            Err(ReportError::BadSignature),
            "{what}"
        );
    }
}

#[test]
fn editing_one_byte_of_the_stored_json_breaks_the_signature() {
    let signed = sign_report(&report(), KEY, &SECRET).unwrap();
    let json = serde_json::to_string(&signed).unwrap();
    let edited = json.replacen("\"events\":1234", "\"events\":1235", 1);
    assert_ne!(edited, json);
    let back: SignedReport = serde_json::from_str(&edited).unwrap();
    assert_eq!(
        verify_report(&back, &public()),
        Err(ReportError::BadSignature)
    );
}

#[test]
fn checkpoint_key_and_signature_are_bound() {
    let signed = sign_report(&report(), KEY, &SECRET).unwrap();

    let mut cp = signed.clone();
    cp.checkpoint.tree_size += 1;
    assert_eq!(
        verify_report(&cp, &public()),
        Err(ReportError::CheckpointMismatch)
    );
    cp.report.audit_summary.checkpoint.tree_size += 1;
    assert_eq!(
        verify_report(&cp, &public()),
        Err(ReportError::BadSignature)
    );

    let other = SigningKey::from_bytes(&[8u8; 32])
        .verifying_key()
        .to_bytes();
    assert_eq!(verify_report(&signed, &other), Err(ReportError::WrongKey));

    let mut renamed = signed.clone();
    renamed.key_id = report_key_id("other", &public());
    assert_eq!(
        verify_report(&renamed, &public()),
        Err(ReportError::BadSignature)
    );

    let mut garbled = signed.clone();
    garbled.signature = "not base64!".into();
    assert_eq!(
        verify_report(&garbled, &public()),
        Err(ReportError::MalformedSignature)
    );

    assert_eq!(
        sign_report(&report(), "bad name", &SECRET).unwrap_err(),
        ReportError::BadKey
    );
}

#[test]
fn canonical_bytes_are_sorted_compact_and_score_is_a_string() {
    let r = report();
    let bytes = canonical_report_bytes(&r).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with("{\"audit_summary\":{\"alerts\":5,"),
        "{}",
        &text[..60]
    );
    assert!(text.contains("\"score\":\"52.7\""));
    assert!(!text.contains(": ") && !text.contains('\n'));
    // Deterministic, and the same after a JSON round trip.
    let back: ComplianceReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(canonical_report_bytes(&back).unwrap(), bytes);
    let msg = signing_message(&r, "k+00000000", &r.audit_summary.checkpoint).unwrap();
    assert!(msg.starts_with(REPORT_SIGNATURE_CONTEXT));
}

#[test]
fn floats_in_details_cannot_be_signed() {
    let mut r = report();
    r.results[0].details = serde_json::json!({"ratio": 0.5});
    assert_eq!(
        sign_report(&r, KEY, &SECRET).unwrap_err(),
        ReportError::Float(FloatInCanonical)
    );
}

#[test]
fn report_json_keeps_score_a_number() {
    let v = serde_json::to_value(report()).unwrap();
    assert_eq!(v["score"], 52.7);
    assert_eq!(v["overall_status"], "NON_COMPLIANT");
    assert_eq!(v["results"][3]["status"], "FAILED");
    assert_eq!(v["risk_summary"]["counts"]["critical"], 1);
    assert!(v["next_review_date"].as_str().unwrap().len() == 10);
}

#[test]
fn csv_has_a_row_per_result_and_defuses_formulas() {
    let mut r = report();
    r.results[0].message = "=HYPERLINK(\"http://evil\",\"x\")".into();
    let csv = report_csv(&r);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 9);
    assert_eq!(lines[0], REPORT_CSV_HEADER.join(","));
    assert!(
        lines[1].contains(",password_policy,Password policy,HIGH,FAILED,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",52.7,"));
    assert!(lines[4].contains(",8.15 5.28 5.33,"), "{}", lines[4]);
}
