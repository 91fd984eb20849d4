//! The Statement of Applicability: defaults, the built-in evidence map,
//! patch validation and treatment links.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use isms_domain::UserId;
use isms_domain::compliance::*;
use isms_domain::risk::{ControlId, Problem, RiskId, TreatmentId};

fn refs(e: &[Evidence], kind: EvidenceKind) -> Vec<&str> {
    e.iter()
        .filter(|x| x.kind == kind)
        .map(|x| x.reference.as_str())
        .collect()
}

fn entry(id: &str) -> SoaEntry {
    default_soa()
        .into_iter()
        .find(|e| e.control_id == id)
        .unwrap()
}

#[test]
fn default_soa_has_every_control_applicable_and_not_started() {
    let soa = default_soa();
    assert_eq!(soa.len(), 93);
    assert!(soa.iter().all(|e| e.applicable
        && e.status == ImplementationStatus::NotStarted
        && e.owner.is_none()
        && e.justification.is_none()));
    assert_eq!(soa[0].control_id, "5.1");
    assert_eq!(soa[0].theme, Theme::Organizational);
    assert_eq!(
        soa[92].title,
        "Protection of information systems during audit testing"
    );
}

#[test]
fn evidence_map_examples_from_the_issue() {
    let e = entry("8.5").evidence;
    let features = refs(&e, EvidenceKind::Feature);
    assert!(
        features.contains(&"login_lockout") && features.contains(&"mfa_totp"),
        "{features:?}"
    );
    assert!(refs(&e, EvidenceKind::Check).contains(&"password_policy"));

    let e = entry("8.15").evidence;
    assert!(refs(&e, EvidenceKind::Feature).contains(&"audit_log"));
    assert_eq!(refs(&e, EvidenceKind::Check), vec!["audit_log_integrity"]);

    let e = entry("8.24").evidence;
    let checks = refs(&e, EvidenceKind::Check);
    assert!(checks.contains(&"encryption_compliance") && checks.contains(&"key_rotation"));
}

#[test]
fn evidence_map_covers_the_named_controls() {
    for id in [
        "5.3", "5.7", "5.9", "5.12", "5.15", "5.16", "5.17", "5.18", "5.29", "5.30", "5.34",
        "5.36", "8.2", "8.3", "8.5", "8.8", "8.9", "8.10", "8.12", "8.14", "8.15", "8.16", "8.24",
    ] {
        assert!(
            !entry(id).evidence.is_empty(),
            "{id} has no built-in evidence"
        );
    }
    // Physical controls are the tenant's to evidence, not the software's.
    assert!(
        default_soa()
            .iter()
            .filter(|e| e.theme == Theme::Physical)
            .all(|e| e.evidence.is_empty())
    );
}

#[test]
fn every_feature_names_real_controls_and_has_a_unique_key() {
    let mut keys: Vec<&str> = FEATURES.iter().map(|f| f.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), FEATURES.len());
    for f in FEATURES {
        assert!(!f.controls.is_empty(), "{}", f.key);
        for c in f.controls {
            assert!(control(c).is_some(), "{} → {c}", f.key);
        }
    }
}

#[test]
fn not_applicable_needs_a_justification() {
    let mut e = entry("7.1");
    let err = e
        .apply(&SoaPatch {
            applicable: Some(false),
            ..SoaPatch::default()
        })
        .unwrap_err();
    assert_eq!(err.field, "justification");
    assert!(e.applicable, "a refused patch changes nothing");

    let blank = SoaPatch {
        applicable: Some(false),
        justification: Some(Some("   ".into())),
        ..SoaPatch::default()
    };
    assert!(e.apply(&blank).is_err());

    let ok = SoaPatch {
        applicable: Some(false),
        justification: Some(Some("Fully remote organisation; no premises.".into())),
        ..SoaPatch::default()
    };
    e.apply(&ok).unwrap();
    assert!(!e.applicable);
    // Clearing the justification of a non-applicable control is refused.
    let clear = SoaPatch {
        justification: Some(None),
        ..SoaPatch::default()
    };
    assert!(e.apply(&clear).is_err());
    assert!(e.justification.is_some());
}

#[test]
fn justification_length_and_characters_are_checked() {
    let mut e = entry("5.1");
    let long = SoaPatch {
        justification: Some(Some("x".repeat(MAX_PROSE_CHARS + 1))),
        ..SoaPatch::default()
    };
    assert_eq!(
        e.apply(&long).unwrap_err().problem,
        Problem::TooLong {
            max_chars: MAX_PROSE_CHARS
        }
    );
    let escape = SoaPatch {
        justification: Some(Some("ok\u{1b}[2J".into())),
        ..SoaPatch::default()
    };
    assert_eq!(
        e.apply(&escape).unwrap_err().problem,
        Problem::ControlCharacter
    );
}

#[test]
fn patch_sets_status_and_owner_and_json_distinguishes_null_from_absent() {
    let mut e = entry("8.24");
    let owner = UserId::new();
    let p: SoaPatch = serde_json::from_value(serde_json::json!({
        "status": "implemented",
        "owner": owner,
    }))
    .unwrap();
    e.apply(&p).unwrap();
    assert_eq!(e.status, ImplementationStatus::Implemented);
    assert_eq!(e.owner, Some(owner));
    let keep: SoaPatch = serde_json::from_value(serde_json::json!({"status": "partial"})).unwrap();
    e.apply(&keep).unwrap();
    assert_eq!(e.owner, Some(owner), "absent keeps");
    let clear: SoaPatch = serde_json::from_value(serde_json::json!({"owner": null})).unwrap();
    e.apply(&clear).unwrap();
    assert_eq!(e.owner, None, "null clears");
    assert!(serde_json::from_value::<SoaPatch>(serde_json::json!({"evidence": []})).is_err());
}

#[test]
fn tenant_soa_overlays_decisions_and_links_treatments() {
    let t = TreatmentId::new();
    let risk = RiskId::new();
    let decisions = vec![
        SoaDecision {
            control_id: "7.4".into(),
            applicable: false,
            justification: Some("No premises.".into()),
            status: ImplementationStatus::NotStarted,
            owner: None,
        },
        SoaDecision {
            control_id: "9.9".into(),
            applicable: false,
            justification: None,
            status: ImplementationStatus::NotStarted,
            owner: None,
        },
    ];
    let links = vec![TreatmentLink {
        treatment_id: t,
        risk_id: risk,
        planned_controls: vec![
            ControlId::parse("8.13").unwrap(),
            ControlId::parse("5.29").unwrap(),
        ],
    }];
    let soa = build_soa(&decisions, &links);
    assert_eq!(soa.len(), 93);
    let get = |id: &str| soa.iter().find(|e| e.control_id == id).unwrap();
    assert!(!get("7.4").applicable);
    assert_eq!(
        refs(&get("8.13").evidence, EvidenceKind::Treatment),
        vec![t.to_string()]
    );
    let continuity = &get("5.29").evidence;
    assert!(refs(continuity, EvidenceKind::Feature).contains(&"scale_out"));
    assert_eq!(refs(continuity, EvidenceKind::Treatment).len(), 1);
    assert!(
        get("5.1")
            .evidence
            .iter()
            .all(|e| e.kind != EvidenceKind::Treatment)
    );
    assert_eq!(get("7.4").decision(), decisions[0]);
}

#[test]
fn evidence_serialises_with_ref() {
    let v = serde_json::to_value(&entry("8.15").evidence[0]).unwrap();
    assert_eq!(v["kind"], "check");
    assert_eq!(v["ref"], "audit_log_integrity");
}
