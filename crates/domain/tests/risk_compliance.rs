//! Inventory findings reported with an assessment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod risk_fixtures;

use chrono::Duration;
use isms_domain::TenantId;
use isms_domain::risk::*;
use risk_fixtures::*;

fn codes(s: &ComplianceStatus) -> Vec<FindingCode> {
    s.findings.iter().map(|f| f.code).collect()
}

#[test]
fn a_well_kept_asset_is_compliant() {
    let a = asset(TenantId::new(), 3, 3, 3, Some(Classification::Confidential));
    let s = check_asset(&a, [], now());
    assert_eq!(s.status, Compliance::Compliant);
    assert!(s.findings.is_empty());
}

#[test]
fn unowned_asset() {
    let mut a = asset(TenantId::new(), 2, 2, 2, Some(Classification::Internal));
    a.owner = None;
    let s = check_asset(&a, [], now());
    assert_eq!(s.status, Compliance::NonCompliant);
    assert_eq!(codes(&s), vec![FindingCode::AssetUnowned]);
    assert_eq!(s.findings[0].control, "5.9");
}

#[test]
fn missing_and_implausible_classification() {
    let t = TenantId::new();
    let s = check_asset(&asset(t, 2, 2, 2, None), [], now());
    assert_eq!(codes(&s), vec![FindingCode::ClassificationMissing]);

    let implausible = [
        (2, Classification::Restricted),
        (1, Classification::Confidential),
        (3, Classification::Public),
        (4, Classification::Internal),
    ];
    for (c, class) in implausible {
        let s = check_asset(&asset(t, c, 1, 1, Some(class)), [], now());
        assert_eq!(
            codes(&s),
            vec![FindingCode::ClassificationImplausible],
            "{class} with confidentiality {c}"
        );
        assert_eq!(s.findings[0].control, "5.12");
    }
    for (c, class) in [
        (3, Classification::Restricted),
        (2, Classification::Confidential),
        (1, Classification::Public),
    ] {
        assert!(
            check_asset(&asset(t, c, 1, 1, Some(class)), [], now())
                .findings
                .is_empty()
        );
    }
}

#[test]
fn overdue_or_unscheduled_review_except_for_disposed_assets() {
    let t = TenantId::new();
    let mut a = asset(t, 2, 2, 2, Some(Classification::Internal));
    a.next_review_at = Some(now() - Duration::days(1));
    let s = check_asset(&a, [], now());
    assert_eq!(codes(&s), vec![FindingCode::ReviewOverdue]);
    assert!(s.findings[0].message.contains("2025-02-28"));

    a.next_review_at = None;
    assert_eq!(
        codes(&check_asset(&a, [], now())),
        vec![FindingCode::ReviewNotScheduled]
    );

    a.status = AssetStatus::Disposed;
    assert!(check_asset(&a, [], now()).findings.is_empty());
}

#[test]
fn open_critical_vulnerability_once_per_vulnerability() {
    let t = TenantId::new();
    let a = asset(t, 3, 3, 3, Some(Classification::Confidential));
    let crit = vulnerability(t, Severity::Critical, VulnerabilityStatus::Open);
    let high = vulnerability(t, Severity::High, VulnerabilityStatus::Open);
    let accepted = vulnerability(t, Severity::Critical, VulnerabilityStatus::Accepted);
    let t1 = threat(t, &[CiaProperty::Integrity], Likelihood::Likely);
    let t2 = threat(t, &[CiaProperty::Availability], Likelihood::Likely);
    let r = run(
        &a,
        &[
            (t1.clone(), Some(crit.clone())),
            (t2, Some(crit)),
            (t1.clone(), Some(high)),
            (t1, Some(accepted)),
        ],
    );
    let s = &r.compliance_status;
    assert_eq!(s.status, Compliance::NonCompliant);
    assert_eq!(codes(s), vec![FindingCode::OpenCriticalVulnerability]);
    assert!(s.findings[0].message.contains("CVE-2024-12345"));
    assert_eq!(s.findings[0].control, "8.8");
}

#[test]
fn findings_accumulate() {
    let mut a = asset(TenantId::new(), 1, 1, 1, Some(Classification::Restricted));
    a.owner = None;
    a.next_review_at = None;
    let s = check_asset(&a, [], now());
    assert_eq!(
        codes(&s),
        vec![
            FindingCode::AssetUnowned,
            FindingCode::ClassificationImplausible,
            FindingCode::ReviewNotScheduled
        ]
    );
    assert!(s.has(FindingCode::AssetUnowned));
    assert!(!s.has(FindingCode::ReviewOverdue));
}
