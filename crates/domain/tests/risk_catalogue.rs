//! The embedded ISO/IEC 27005 threat catalogue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod risk_fixtures;

use std::collections::HashSet;

use isms_domain::TenantId;
use isms_domain::risk::*;
use risk_fixtures::*;

#[test]
fn the_embedded_catalogue_parses_with_at_least_30_unique_threats() {
    let parsed = parse_threat_catalogue(DEFAULT_CATALOGUE_JSON).unwrap();
    assert_eq!(parsed, default_threat_catalogue());
    assert!(parsed.len() >= 30, "{} threats", parsed.len());
    let keys: HashSet<&str> = parsed.iter().map(|t| t.key.as_str()).collect();
    let names: HashSet<String> = parsed.iter().map(|t| t.name.to_lowercase()).collect();
    assert_eq!(keys.len(), parsed.len());
    assert_eq!(names.len(), parsed.len());
}

#[test]
fn every_group_of_the_annex_is_represented_with_its_origins() {
    let c = default_threat_catalogue();
    for g in ThreatGroup::ALL {
        assert!(c.iter().any(|t| t.group == *g), "{g}");
    }
    let get = |key: &str| c.iter().find(|t| t.key == key).unwrap();
    // Spot checks against the standard's D/A/E marks.
    assert_eq!(get("flood").origins, vec![ThreatCategory::Environmental]);
    assert_eq!(
        get("eavesdropping").origins,
        vec![ThreatCategory::Deliberate]
    );
    assert_eq!(
        get("error_in_use").origins,
        vec![ThreatCategory::Accidental]
    );
    assert_eq!(get("fire").origins.len(), 3);
    for t in &c {
        assert!(t.origins.contains(&t.category), "{}", t.key);
        assert!(!t.targets.is_empty(), "{}", t.key);
    }
    let natural: Vec<_> = c
        .iter()
        .filter(|t| t.group == ThreatGroup::NaturalEvents)
        .collect();
    assert!(
        natural
            .iter()
            .all(|t| t.category == ThreatCategory::Environmental)
    );
}

#[test]
fn templates_become_tenant_threats_that_score() {
    let tenant = TenantId::new();
    let catalogue = default_threat_catalogue();
    let threats: Vec<Threat> = catalogue
        .iter()
        .map(|t| t.instantiate(tenant, now()))
        .collect();
    for (template, threat) in catalogue.iter().zip(&threats) {
        assert_eq!(threat.name, template.name);
        assert_eq!(threat.tenant_id, tenant);
        // The draft passes the same rules a tenant's own threat does.
        assert!(Threat::create(tenant, template.draft(), now()).is_ok());
    }
    let a = asset(tenant, 3, 3, 3, Some(Classification::Confidential));
    let r = assess_pairs(
        &a,
        threats.iter().map(|t| (t, None)),
        &RiskMatrixConfig::default(),
        now(),
        Assessor::System,
    )
    .unwrap();
    assert_eq!(r.contributions.len(), catalogue.len());
    assert!(r.risk_score >= 1);
}

fn one(entry: &str) -> String {
    format!(r#"{{"source":"test","threats":[{entry}]}}"#)
}

const FIRE: &str = r#"{"key":"fire","name":"Fire","group":"physical_damage","origins":["accidental"],"category":"accidental","targets":["availability"],"base_likelihood":"unlikely"}"#;

#[test]
fn malformed_catalogues_are_rejected_with_the_entry_and_field() {
    assert!(parse_threat_catalogue(&one(FIRE)).is_ok());
    let entry_field = |json: String| match parse_threat_catalogue(&json) {
        Err(CatalogueError::Entry { index, error }) => (index, error.field),
        other => panic!("expected an entry error, got {other:?}"),
    };
    assert_eq!(entry_field(one(&format!("{FIRE},{FIRE}"))), (1, "key"));
    let renamed = FIRE.replace(r#""key":"fire""#, r#""key":"fire2""#);
    assert_eq!(entry_field(one(&format!("{FIRE},{renamed}"))), (1, "name"));
    assert_eq!(
        entry_field(one(&FIRE.replace(
            r#""category":"accidental""#,
            r#""category":"deliberate""#
        ))),
        (0, "category")
    );
    assert_eq!(
        entry_field(one(&FIRE.replace(r#"["availability"]"#, "[]"))),
        (0, "targets")
    );
    assert_eq!(
        entry_field(one(&FIRE.replace(r#""key":"fire""#, r#""key":"Fire!""#))),
        (0, "key")
    );
    let unknown_field = FIRE.replace(r#""key""#, r#""likelihood":1,"key""#);
    assert!(matches!(
        parse_threat_catalogue(&one(&unknown_field)),
        Err(CatalogueError::Format(_))
    ));
    assert!(matches!(
        parse_threat_catalogue("[]"),
        Err(CatalogueError::Format(_))
    ));
}
