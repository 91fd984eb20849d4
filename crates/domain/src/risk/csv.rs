//! CSV export of the risk register (RFC 4180), safe to open in a
//! spreadsheet: cells that a spreadsheet would run as a formula are
//! defused (OWASP "CSV injection").

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::ids::RiskId;
use super::score::PairScore;
use super::treatment::{TreatmentOption, TreatmentStatus};

/// First characters that make Excel, LibreOffice or Sheets evaluate a
/// cell, or (tab, CR) that hide such a character after a field separator.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell: a leading `'` if the text would start a formula, then quoted
/// (quotes doubled) if it holds a quote, comma or line break. The `'` is
/// inside the quotes, so the cell reads back as the text with that prefix.
pub fn csv_cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    write_cell(&mut out, value);
    out
}

fn write_cell(out: &mut String, value: &str) {
    let defuse = value.starts_with(FORMULA_TRIGGERS);
    let quote = value.contains(['"', ',', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if defuse {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

/// Writes one CSV record field by field.
struct Record<'o> {
    out: &'o mut String,
    fields: usize,
}

impl<'o> Record<'o> {
    fn new(out: &'o mut String) -> Self {
        Self { out, fields: 0 }
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            self.out.push(',');
        }
        self.fields += 1;
    }

    fn text(&mut self, value: &str) {
        self.separate();
        write_cell(self.out, value);
    }

    /// For values whose rendering cannot need quoting or defusing:
    /// unsigned numbers, UUIDs and ISO dates start with a digit or hex
    /// letter and hold no separator.
    fn plain(&mut self, value: impl std::fmt::Display) {
        self.separate();
        let _ = write!(self.out, "{value}");
    }

    fn end(self) {
        self.out.push_str("\r\n");
    }
}

/// One register line. Borrowed, so an export does not copy the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterRow<'a> {
    pub risk_id: RiskId,
    pub asset: &'a str,
    pub threat: &'a str,
    pub vulnerability: Option<&'a str>,
    pub inherent: PairScore,
    pub residual: Option<PairScore>,
    pub treatment: Option<TreatmentOption>,
    pub treatment_status: Option<TreatmentStatus>,
    pub owner: Option<&'a str>,
    pub due_date: Option<NaiveDate>,
}

pub const REGISTER_HEADER: [&str; 16] = [
    "risk_id",
    "asset",
    "threat",
    "vulnerability",
    "inherent_impact",
    "inherent_likelihood",
    "inherent_score",
    "inherent_level",
    "residual_impact",
    "residual_likelihood",
    "residual_score",
    "residual_level",
    "treatment",
    "treatment_status",
    "owner",
    "due_date",
];

/// The register as CSV: a header line, then one line per row, CRLF line
/// ends as RFC 4180 prescribes. Empty cells stand for absent values.
pub fn register_csv(rows: &[RegisterRow<'_>]) -> String {
    let mut out = String::with_capacity(160 * (rows.len() + 1));
    let mut header = Record::new(&mut out);
    for name in REGISTER_HEADER {
        header.text(name);
    }
    header.end();
    for r in rows {
        let mut rec = Record::new(&mut out);
        rec.plain(r.risk_id);
        rec.text(r.asset);
        rec.text(r.threat);
        rec.text(r.vulnerability.unwrap_or(""));
        rec.plain(r.inherent.impact);
        rec.plain(r.inherent.likelihood);
        rec.plain(r.inherent.score);
        rec.text(r.inherent.level.as_str());
        match r.residual {
            Some(s) => {
                rec.plain(s.impact);
                rec.plain(s.likelihood);
                rec.plain(s.score);
                rec.text(s.level.as_str());
            }
            None => (0..4).for_each(|_| rec.text("")),
        }
        rec.text(r.treatment.map_or("", |t| t.as_str()));
        rec.text(r.treatment_status.map_or("", |s| s.as_str()));
        rec.text(r.owner.unwrap_or(""));
        match r.due_date {
            Some(d) => rec.plain(d.format("%Y-%m-%d")),
            None => rec.text(""),
        }
        rec.end();
    }
    out
}
