//! Heat maps and the CSV register export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod risk_fixtures;

use chrono::NaiveDate;
use isms_domain::risk::*;
use proptest::prelude::*;
use risk_fixtures::*;

#[test]
fn formula_triggers_are_defused() {
    assert_eq!(csv_cell("=1+1"), "'=1+1");
    assert_eq!(csv_cell("+41 22 000"), "'+41 22 000");
    assert_eq!(csv_cell("-2+3"), "'-2+3");
    assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_cell("\t=cmd"), "'\t=cmd");
    // CR forces quoting too; the prefix sits inside the quotes.
    assert_eq!(csv_cell("\r=cmd"), "\"'\r=cmd\"");
    assert_eq!(
        csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
        "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
    );
    // Only the first character matters.
    assert_eq!(csv_cell("a=b"), "a=b");
    assert_eq!(csv_cell("e-mail"), "e-mail");
}

#[test]
fn rfc_4180_quoting() {
    assert_eq!(csv_cell("plain"), "plain");
    assert_eq!(csv_cell(""), "");
    assert_eq!(csv_cell("a,b"), "\"a,b\"");
    assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv_cell("two\r\nlines"), "\"two\r\nlines\"");
}

#[test]
fn register_has_a_header_and_one_crlf_line_per_row() {
    let risk = risk_at(4, 5);
    let residual = RiskMatrixConfig::default().score(2, 2).unwrap();
    let rows = [
        RegisterRow {
            risk_id: risk.id,
            asset: "=cmd|' /C calc'!A0",
            threat: "Eavesdropping, remote",
            vulnerability: Some("CVE-2021-44228"),
            inherent: risk.inherent,
            residual: Some(residual),
            treatment: Some(TreatmentOption::Mitigate),
            treatment_status: Some(TreatmentStatus::InProgress),
            owner: Some("Ann \"CISO\" Lee"),
            due_date: NaiveDate::from_ymd_opt(2025, 6, 30),
        },
        RegisterRow {
            risk_id: risk.id,
            asset: "Laptop fleet",
            threat: "Theft of equipment",
            vulnerability: None,
            inherent: risk.inherent,
            residual: None,
            treatment: None,
            treatment_status: None,
            owner: None,
            due_date: None,
        },
    ];
    let csv = register_csv(&rows);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "header, two rows, trailing empty");
    assert_eq!(lines[3], "");
    assert_eq!(lines[0], REGISTER_HEADER.join(","));
    assert_eq!(
        lines[1],
        format!(
            "{},'=cmd|' /C calc'!A0,\"Eavesdropping, remote\",CVE-2021-44228,4,5,20,critical,2,2,4,low,mitigate,in_progress,\"Ann \"\"CISO\"\" Lee\",2025-06-30",
            risk.id
        )
    );
    assert_eq!(
        lines[2],
        format!(
            "{},Laptop fleet,Theft of equipment,,4,5,20,critical,,,,,,,,",
            risk.id
        )
    );
}

#[test]
fn every_row_has_as_many_cells_as_the_header() {
    let risk = risk_at(1, 1);
    let row = RegisterRow {
        risk_id: risk.id,
        asset: "a",
        threat: "t",
        vulnerability: None,
        inherent: risk.inherent,
        residual: None,
        treatment: None,
        treatment_status: None,
        owner: None,
        due_date: None,
    };
    let csv = register_csv(&[row]);
    let mut lines = csv.split("\r\n");
    let header_cells = lines.next().unwrap().split(',').count();
    assert_eq!(header_cells, REGISTER_HEADER.len());
    assert_eq!(lines.next().unwrap().split(',').count(), header_cells);
}

#[test]
fn heatmap_counts_per_cell() {
    let config = RiskMatrixConfig::default();
    let mut treated = risk_at(4, 5);
    treated.residual = Some(config.score(2, 1).unwrap());
    let risks = [treated, risk_at(4, 5), risk_at(1, 1)];
    let h = heatmap(&risks, &config);
    assert_eq!(h.inherent.count(4, 5), 2);
    assert_eq!(h.inherent.count(1, 1), 1);
    assert_eq!(
        h.residual.count(4, 5),
        1,
        "untreated risks stay at their inherent cell"
    );
    assert_eq!(h.residual.count(2, 1), 1);
    assert_eq!(h.inherent.cells.len(), 4);
    assert!(h.inherent.cells.iter().all(|row| row.len() == 5));
    assert_eq!(h.inherent.count(9, 9), 0);
}

#[test]
fn risks_off_a_smaller_matrix_are_counted_apart() {
    let spec = RiskMatrixSpec {
        impact_levels: ["low", "medium", "high"].map(String::from).to_vec(),
        impact_of_rating: [1, 2, 3, 3],
        thresholds: LevelThresholds {
            medium: 4,
            high: 8,
            critical: 12,
        },
        classification_impact_floor: PerClassification {
            public: 1,
            internal: 1,
            confidential: 2,
            restricted: 3,
        },
        ..RiskMatrixSpec::default()
    };
    let small = RiskMatrixConfig::try_from(spec).unwrap();
    let h = heatmap(&[risk_at(4, 5), risk_at(3, 5)], &small);
    assert_eq!(h.inherent.out_of_range, 1);
    assert_eq!(h.inherent.total(), 2);
}

proptest! {
    #[test]
    fn heatmap_totals_equal_the_number_of_risks(
        cells in prop::collection::vec((1u8..=4, 1u8..=5, prop::option::of((1u8..=4, 1u8..=5))), 0..60)
    ) {
        let config = RiskMatrixConfig::default();
        let risks: Vec<Risk> = cells
            .iter()
            .map(|(i, l, res)| {
                let mut r = risk_at(*i, *l);
                r.residual = res.map(|(ri, rl)| config.score(ri, rl).unwrap());
                r
            })
            .collect();
        let h = heatmap(&risks, &config);
        prop_assert_eq!(h.inherent.total() as usize, risks.len());
        prop_assert_eq!(h.residual.total() as usize, risks.len());
        prop_assert_eq!(h.inherent.out_of_range, 0);
    }

    #[test]
    fn csv_cells_never_start_a_formula_and_always_round_trip(s in "\\PC{0,20}|[=+\\-@\t\r,\"\n].{0,10}") {
        let cell = csv_cell(&s);
        let unquoted = match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => cell.clone(),
        };
        let first = unquoted.chars().next();
        prop_assert!(!matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')));
        let original = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            unquoted.strip_prefix('\'').map(str::to_owned)
        } else {
            Some(unquoted)
        };
        prop_assert_eq!(original, Some(s));
    }
}
