//! Builders shared by the risk test files: a compliant asset, a threat and
//! a vulnerability, each with the one knob a test turns.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use chrono::{Duration, TimeZone, Utc};
use isms_domain::TenantId;
use isms_domain::UserId;
use isms_domain::risk::*;
use isms_domain::time::Timestamp;

pub fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

/// An owned, classified, reviewed asset: compliant unless a test breaks it.
pub fn asset(tenant: TenantId, c: u8, i: u8, a: u8, class: Option<Classification>) -> Asset {
    Asset::create(
        tenant,
        AssetDraft {
            name: "Customer database".into(),
            description: String::new(),
            asset_type: AssetType::Information,
            owner: Some(UserId::new()),
            custodian: None,
            classification: class,
            confidentiality: c,
            integrity: i,
            availability: a,
            business_value: 3,
            location: None,
            tags: vec![],
            status: AssetStatus::Active,
            next_review_at: Some(now() + Duration::days(30)),
        },
        now(),
    )
    .unwrap()
}

pub fn threat(tenant: TenantId, targets: &[CiaProperty], base: Likelihood) -> Threat {
    Threat::create(
        tenant,
        ThreatDraft {
            name: "Tampering with software".into(),
            category: ThreatCategory::Deliberate,
            source: Some("external attacker".into()),
            description: String::new(),
            targets: CiaSet::of(targets),
            base_likelihood: base,
        },
        now(),
    )
    .unwrap()
}

pub fn vulnerability(
    tenant: TenantId,
    severity: Severity,
    status: VulnerabilityStatus,
) -> Vulnerability {
    Vulnerability::create(
        tenant,
        VulnerabilityDraft {
            name: "Unpatched web framework".into(),
            description: String::new(),
            severity,
            cve: Some("CVE-2024-12345".into()),
            cwe: Some("CWE-94".into()),
            affected_assets: vec![],
            status,
            discovered_at: now() - Duration::days(10),
            remediated_at: (status == VulnerabilityStatus::Mitigated)
                .then(|| now() - Duration::days(1)),
        },
        now(),
    )
    .unwrap()
}

pub fn run(asset: &Asset, pairs: &[(Threat, Option<Vulnerability>)]) -> AssessmentResult {
    assess(
        asset,
        pairs,
        &RiskMatrixConfig::default(),
        now(),
        Assessor::System,
    )
    .unwrap()
}

/// A risk scored at one cell of the default matrix.
pub fn risk_at(impact: u8, likelihood: u8) -> Risk {
    let config = RiskMatrixConfig::default();
    let exposure = Exposure {
        tenant_id: TenantId::new(),
        asset_id: AssetId::new(),
        threat_id: ThreatId::new(),
        vulnerability_id: None,
    };
    Risk::new(exposure, config.score(impact, likelihood).unwrap(), now())
}
