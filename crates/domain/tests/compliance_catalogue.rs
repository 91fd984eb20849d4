//! The embedded ISO/IEC 27001:2022 Annex A catalogue and the 2013 → 2022
//! correspondence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use isms_domain::compliance::*;
use isms_domain::risk::ControlId;

#[test]
fn ninety_three_controls_in_four_themes() {
    let all = all_controls();
    assert_eq!(all.len(), 93);
    let per = |t: Theme| all.iter().filter(|c| c.theme == t).count();
    assert_eq!(per(Theme::Organizational), 37);
    assert_eq!(per(Theme::People), 8);
    assert_eq!(per(Theme::Physical), 14);
    assert_eq!(per(Theme::Technological), 34);
}

#[test]
fn ids_unique_in_order_and_matching_their_theme() {
    let all = all_controls();
    let unique: HashSet<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(unique.len(), all.len());
    let parsed: Vec<ControlId> = all
        .iter()
        .map(|c| ControlId::parse(&c.id).expect("a 2022 id"))
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] < w[1]), "not in order");
    for (c, id) in all.iter().zip(&parsed) {
        assert_eq!(id.theme(), c.theme.number(), "{}", c.id);
        assert!(!c.title.trim().is_empty());
    }
    assert_eq!(all.first().map(|c| c.id.as_str()), Some("5.1"));
    assert_eq!(all.last().map(|c| c.id.as_str()), Some("8.34"));
}

#[test]
fn titles_of_the_controls_the_checks_evidence() {
    let title = |id: &str| control(id).map(|c| c.title.as_str());
    assert_eq!(title("5.1"), Some("Policies for information security"));
    assert_eq!(title("5.15"), Some("Access control"));
    assert_eq!(title("5.17"), Some("Authentication information"));
    assert_eq!(title("5.18"), Some("Access rights"));
    assert_eq!(
        title("5.29"),
        Some("Information security during disruption")
    );
    assert_eq!(
        title("5.34"),
        Some("Privacy and protection of personal identifiable information (PII)")
    );
    assert_eq!(title("6.8"), Some("Information security event reporting"));
    assert_eq!(
        title("7.14"),
        Some("Secure disposal or re-use of equipment")
    );
    assert_eq!(title("8.2"), Some("Privileged access rights"));
    assert_eq!(title("8.5"), Some("Secure authentication"));
    assert_eq!(title("8.15"), Some("Logging"));
    assert_eq!(title("8.16"), Some("Monitoring activities"));
    assert_eq!(title("8.24"), Some("Use of cryptography"));
    assert_eq!(
        title("8.34"),
        Some("Protection of information systems during audit testing")
    );
    assert_eq!(title("8.35"), None);
    assert_eq!(title("A.8.24"), Some("Use of cryptography"));
}

/// Where ISO/IEC 27002:2022 words a title differently from Table A.1 of
/// ISO/IEC 27001:2022, the catalogue keeps the 27001 wording (checked
/// against copies of Table A.1 and Statements of Applicability that quote
/// it); these are the places a well-meant "fix" would go wrong.
#[test]
fn titles_follow_27001_table_a1_not_27002() {
    let title = |id: &str| control(id).map(|c| c.title.as_str());
    // 27002: "User endpoint devices".
    assert_eq!(title("8.1"), Some("User end point devices"));
    // 27002: "Managing information security in the ICT supply chain".
    assert_eq!(
        title("5.21"),
        Some(
            "Managing information security in the information and communication technology (ICT) supply chain"
        )
    );
    // 27002: "Privacy and protection of PII".
    assert_eq!(
        title("5.34"),
        Some("Privacy and protection of personal identifiable information (PII)")
    );
    // Some guides write "Identification of legal, statutory …".
    assert_eq!(
        title("5.31"),
        Some("Legal, statutory, regulatory and contractual requirements")
    );
    assert_eq!(
        title("5.36"),
        Some("Compliance with policies, rules and standards for information security")
    );
    assert_eq!(title("8.17"), Some("Clock synchronization"));
    assert_eq!(title("8.20"), Some("Networks security"));
}

#[test]
fn mapping_2013_examples() {
    assert_eq!(map_2013("A.9.4.2"), vec!["8.5"]);
    assert_eq!(map_2013("A.10.1.1"), vec!["8.24"]);
    assert_eq!(map_2013("A.10.1.2"), vec!["8.24"]);
    assert_eq!(map_2013("A.12.4.1"), vec!["8.15"]);
    assert_eq!(map_2013("A.12.4.4"), vec!["8.17"]);
    assert_eq!(map_2013("A.12.6.1"), vec!["8.8"]);
    assert_eq!(map_2013("A.9.2.5"), vec!["5.18"]);
    assert_eq!(map_2013("A.9.2.3"), vec!["8.2"]);
    assert_eq!(map_2013("A.14.2.8"), vec!["8.29"]);
    assert_eq!(map_2013("A.17.1.1"), vec!["5.29"]);
    assert_eq!(map_2013("A.17.2.1"), vec!["8.14"]);
    assert_eq!(map_2013(" 9.4.2 "), vec!["8.5"]);
    assert!(map_2013("A.9.9.9").is_empty());
    assert!(map_2013("A.5.1.1").is_empty(), "section not mapped");
}

#[test]
fn mapping_covers_every_control_of_the_five_sections() {
    let cat = catalogue().unwrap();
    let in_section = |s: &str| {
        cat.mappings()
            .iter()
            .filter(|m| m.id_2013.starts_with(&format!("A.{s}.")))
            .count()
    };
    // The 2013 Annex A had 14 controls in A.9, 2 in A.10, 14 in A.12,
    // 13 in A.14 and 4 in A.17.
    assert_eq!(in_section("9"), 14);
    assert_eq!(in_section("10"), 2);
    assert_eq!(in_section("12"), 14);
    assert_eq!(in_section("14"), 13);
    assert_eq!(in_section("17"), 4);
    for m in cat.mappings() {
        assert!(!m.title_2013.is_empty());
        for c in &m.controls_2022 {
            assert!(control(c).is_some(), "{} → {c}", m.id_2013);
        }
    }
}
