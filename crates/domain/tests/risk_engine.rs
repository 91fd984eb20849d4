//! The assessment engine under the default and custom methods.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod risk_fixtures;

use chrono::Duration;
use isms_domain::TenantId;
use isms_domain::risk::*;
use risk_fixtures::*;

use CiaProperty::{Availability, Confidentiality, Integrity};

#[test]
fn pinned_case_worst_rating_almost_certain_open_vulnerability_is_20_critical() {
    let t = TenantId::new();
    let a = asset(t, 4, 2, 1, Some(Classification::Confidential));
    let th = threat(t, &[Confidentiality], Likelihood::AlmostCertain);
    for severity in [Severity::Medium, Severity::High, Severity::Critical] {
        let v = vulnerability(t, severity, VulnerabilityStatus::Open);
        let r = run(&a, &[(th.clone(), Some(v))]);
        assert_eq!(r.risk_score, 20, "{severity}");
        assert_eq!(r.risk_level, RiskLevel::Critical);
        let c = r.contributions[0];
        assert_eq!((c.impact, c.likelihood, c.score), (4, 5, 20));
    }

    let open = vulnerability(t, Severity::Critical, VulnerabilityStatus::Open);
    let mut fixed = open.clone();
    fixed.mitigate(now(), now()).unwrap();
    let before = run(&a, &[(th.clone(), Some(open))]);
    let after = run(&a, &[(th, Some(fixed))]);
    assert!(after.contributions[0].likelihood < before.contributions[0].likelihood);
    assert!(after.risk_score < before.risk_score);
    assert_eq!(
        (after.contributions[0].likelihood, after.risk_score),
        (3, 12)
    );
    assert_eq!(after.risk_level, RiskLevel::High);
}

#[test]
fn level_boundaries_of_the_default_method() {
    let c = RiskMatrixConfig::default();
    let expect = [
        (1, RiskLevel::Low),
        (5, RiskLevel::Low),
        (6, RiskLevel::Medium),
        (9, RiskLevel::Medium),
        (10, RiskLevel::High),
        (14, RiskLevel::High),
        (15, RiskLevel::Critical),
        (20, RiskLevel::Critical),
    ];
    for (score, level) in expect {
        assert_eq!(c.level_of(score), level, "score {score}");
    }
}

#[test]
fn boundary_scores_reached_through_real_pairs() {
    // (impact rating, base likelihood, vulnerability) → score, level.
    // Open medium vulnerabilities leave the base likelihood unchanged.
    let t = TenantId::new();
    let cases = [
        (1, Likelihood::AlmostCertain, 5, RiskLevel::Low),
        (2, Likelihood::Possible, 6, RiskLevel::Medium),
        (3, Likelihood::Possible, 9, RiskLevel::Medium),
        (2, Likelihood::AlmostCertain, 10, RiskLevel::High),
        (3, Likelihood::AlmostCertain, 15, RiskLevel::Critical),
        (4, Likelihood::AlmostCertain, 20, RiskLevel::Critical),
    ];
    for (rating, base, score, level) in cases {
        let a = asset(t, 1, rating, 1, Some(Classification::Internal));
        let th = threat(t, &[Integrity], base);
        let v = vulnerability(t, Severity::Medium, VulnerabilityStatus::Open);
        let r = run(&a, &[(th, Some(v))]);
        assert_eq!(
            (r.risk_score, r.risk_level),
            (score, level),
            "{rating} {base}"
        );
    }
}

#[test]
fn required_mitigations_per_level() {
    let c = RiskMatrixConfig::default();
    assert!(c.required_mitigations(RiskLevel::Low).is_empty());
    assert_eq!(
        c.required_mitigations(RiskLevel::Medium),
        [
            "management approval",
            "mitigation plan within 90 days",
            "regular risk monitoring"
        ]
    );
    assert_eq!(
        c.required_mitigations(RiskLevel::High),
        [
            "senior management approval",
            "detailed mitigation plan within 30 days",
            "regular monitoring and reporting",
            "security control enhancement"
        ]
    );
    assert_eq!(
        c.required_mitigations(RiskLevel::Critical),
        [
            "immediate mitigation",
            "board-level approval",
            "independent security review",
            "insurance coverage review",
            "business continuity plan activation"
        ]
    );

    let t = TenantId::new();
    let a = asset(t, 4, 1, 1, Some(Classification::Restricted));
    let th = threat(t, &[Confidentiality], Likelihood::AlmostCertain);
    let r = run(&a, &[(th, None)]);
    assert_eq!(r.risk_level, RiskLevel::Critical);
    assert_eq!(
        r.required_mitigations,
        c.required_mitigations(RiskLevel::Critical)
    );
}

#[test]
fn next_assessment_due_per_level() {
    let c = RiskMatrixConfig::default();
    for (level, days) in [
        (RiskLevel::Critical, 30),
        (RiskLevel::High, 90),
        (RiskLevel::Medium, 180),
        (RiskLevel::Low, 365),
    ] {
        assert_eq!(
            c.next_assessment_due(level, now()),
            now() + Duration::days(days),
            "{level}"
        );
    }
    let t = TenantId::new();
    let a = asset(t, 2, 2, 2, Some(Classification::Internal));
    // 2 × (likely − 1 for no known vulnerability) = 6.
    let th = threat(t, &[Availability], Likelihood::Likely);
    let r = run(&a, &[(th, None)]);
    assert_eq!((r.risk_score, r.risk_level), (6, RiskLevel::Medium));
    assert_eq!(r.next_assessment_due, now() + Duration::days(180));
}

#[test]
fn intervals_are_configuration() {
    let mut spec = RiskMatrixSpec::default();
    spec.review_interval_days.critical = 7;
    let c = RiskMatrixConfig::try_from(spec).unwrap();
    assert_eq!(
        c.next_assessment_due(RiskLevel::Critical, now()),
        now() + Duration::days(7)
    );
}

#[test]
fn the_asset_scores_its_worst_pair_and_keeps_every_pair() {
    let t = TenantId::new();
    let a = asset(t, 3, 2, 4, Some(Classification::Confidential));
    let spy = threat(t, &[Confidentiality], Likelihood::Unlikely);
    let outage = threat(t, &[Availability], Likelihood::Likely);
    let v = vulnerability(t, Severity::High, VulnerabilityStatus::Open);
    let r = run(
        &a,
        &[
            (spy.clone(), None),
            (outage.clone(), Some(v.clone())),
            (spy, Some(v)),
        ],
    );
    let scores: Vec<u16> = r.contributions.iter().map(|c| c.score).collect();
    // spy: impact 3 × (2 − 1) = 3; outage: 4 × (4 + 1) = 20; spy via
    // the open high vulnerability: 3 × (2 + 1) = 9.
    assert_eq!(scores, vec![3, 20, 9]);
    assert_eq!(r.risk_score, 20);
    assert_eq!(r.driver().map(|c| c.threat_id), Some(outage.id));
    assert_eq!(r.exposures().count(), 3);
}

#[test]
fn impact_is_the_highest_rating_among_targeted_properties() {
    let t = TenantId::new();
    let a = asset(t, 1, 2, 4, None);
    let c = RiskMatrixConfig::default();
    let only_c = CiaSet::of(&[Confidentiality]);
    let c_and_i = CiaSet::of(&[Confidentiality, Integrity]);
    assert_eq!(impact_of(&a, only_c, &c), 1);
    assert_eq!(impact_of(&a, c_and_i, &c), 2);
    assert_eq!(impact_of(&a, CiaSet::ALL, &c), 4);
}

#[test]
fn classification_raises_impact_to_its_floor_only() {
    let t = TenantId::new();
    let c = RiskMatrixConfig::default();
    let conf = CiaSet::of(&[Integrity]);
    let floor = |class| impact_of(&asset(t, 4, 1, 1, class), conf, &c);
    assert_eq!(floor(None), 1);
    assert_eq!(floor(Some(Classification::Public)), 1);
    assert_eq!(floor(Some(Classification::Internal)), 1);
    assert_eq!(floor(Some(Classification::Confidential)), 2);
    assert_eq!(floor(Some(Classification::Restricted)), 3);
    // A rating above the floor stands.
    let high = asset(t, 4, 4, 1, Some(Classification::Confidential));
    assert_eq!(impact_of(&high, conf, &c), 4);
}

#[test]
fn likelihood_follows_the_vulnerability() {
    let t = TenantId::new();
    let c = RiskMatrixConfig::default();
    let th = threat(t, &[Integrity], Likelihood::Possible);
    let with = |sev, status| likelihood_of(&th, Some(&vulnerability(t, sev, status)), &c);
    use VulnerabilityStatus::*;
    assert_eq!(likelihood_of(&th, None, &c), 2);
    assert_eq!(with(Severity::Critical, Open), 4);
    assert_eq!(with(Severity::High, Open), 4);
    assert_eq!(with(Severity::Medium, Open), 3);
    assert_eq!(with(Severity::Low, Open), 2);
    assert_eq!(with(Severity::Critical, Mitigated), 1);
    assert_eq!(with(Severity::Low, Mitigated), 1);
    // Acceptance is a decision, not a control: scored like open.
    assert_eq!(with(Severity::Critical, Accepted), 4);
    assert_eq!(with(Severity::Low, Accepted), 2);

    let rare = threat(t, &[Integrity], Likelihood::Rare);
    assert_eq!(likelihood_of(&rare, None, &c), 1, "clamped at the bottom");
    let certain = threat(t, &[Integrity], Likelihood::AlmostCertain);
    let v = vulnerability(t, Severity::Critical, Open);
    assert_eq!(
        likelihood_of(&certain, Some(&v), &c),
        5,
        "clamped at the top"
    );
}

#[test]
fn an_asset_without_exposures_scores_zero_and_low() {
    let t = TenantId::new();
    let a = asset(t, 4, 4, 4, Some(Classification::Restricted));
    let r = run(&a, &[]);
    assert_eq!(r.risk_score, 0);
    assert_eq!(r.risk_level, RiskLevel::Low);
    assert!(r.contributions.is_empty());
    assert!(r.required_mitigations.is_empty());
    assert_eq!(r.next_assessment_due, now() + Duration::days(365));
    assert!(r.driver().is_none());
}

#[test]
fn pairs_of_another_tenant_are_refused() {
    let t = TenantId::new();
    let a = asset(t, 2, 2, 2, Some(Classification::Internal));
    let foreign = threat(TenantId::new(), &[Integrity], Likelihood::Likely);
    let err = assess(
        &a,
        &[(foreign.clone(), None)],
        &RiskMatrixConfig::default(),
        now(),
        Assessor::System,
    )
    .unwrap_err();
    assert_eq!(err.kind, "threat");
    assert_eq!(err.id, foreign.id.as_uuid());

    let own = threat(t, &[Integrity], Likelihood::Likely);
    let v = vulnerability(TenantId::new(), Severity::Low, VulnerabilityStatus::Open);
    let err = Exposure::link(&a, &own, Some(&v)).unwrap_err();
    assert_eq!(err.kind, "vulnerability");
}

#[test]
fn borrowed_pairs_give_the_same_result_as_owned_ones() {
    let t = TenantId::new();
    let a = asset(t, 3, 3, 3, Some(Classification::Confidential));
    let catalogue: Vec<Threat> = [Likelihood::Rare, Likelihood::Likely]
        .into_iter()
        .map(|l| threat(t, &[Integrity], l))
        .collect();
    let c = RiskMatrixConfig::default();
    let user = Assessor::User {
        user_id: isms_domain::UserId::new(),
    };
    let borrowed =
        assess_pairs(&a, catalogue.iter().map(|th| (th, None)), &c, now(), user).unwrap();
    let owned: Vec<_> = catalogue.iter().map(|th| (th.clone(), None)).collect();
    let owned = assess(&a, &owned, &c, now(), user).unwrap();
    assert_eq!(borrowed.contributions, owned.contributions);
    assert_eq!(borrowed.assessor, user);
}

#[test]
fn result_serialises_with_snake_case_names() {
    let t = TenantId::new();
    let a = asset(t, 3, 3, 3, Some(Classification::Confidential));
    let r = run(&a, &[(threat(t, &[Integrity], Likelihood::Likely), None)]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["risk_level"], "medium");
    assert_eq!(json["compliance_status"]["status"], "compliant");
    assert_eq!(json["assessor"]["kind"], "system");
    assert!(json["contributions"][0]["vulnerability_id"].is_null());
    let back: AssessmentResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_custom_five_by_five_method_scores_on_its_own_axes() {
    let mut spec = RiskMatrixSpec {
        impact_levels: ["negligible", "minor", "moderate", "major", "severe"]
            .map(String::from)
            .to_vec(),
        impact_of_rating: [1, 2, 4, 5],
        thresholds: LevelThresholds {
            medium: 5,
            high: 12,
            critical: 20,
        },
        ..RiskMatrixSpec::default()
    };
    spec.classification_impact_floor.restricted = 4;
    let c = RiskMatrixConfig::try_from(spec).unwrap();
    assert_eq!(c.max_score(), 25);
    let t = TenantId::new();
    let a = asset(t, 4, 1, 1, Some(Classification::Restricted));
    let th = threat(t, &[Confidentiality], Likelihood::AlmostCertain);
    let v = vulnerability(t, Severity::Critical, VulnerabilityStatus::Open);
    let r = assess(&a, &[(th, Some(v))], &c, now(), Assessor::System).unwrap();
    assert_eq!((r.risk_score, r.risk_level), (25, RiskLevel::Critical));
    assert_eq!(c.level_of(19), RiskLevel::High);
    assert_eq!(c.level_of(4), RiskLevel::Low);
}
