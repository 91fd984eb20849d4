//! A report as CSV (RFC 4180, CRLF line ends): one line per check result,
//! with the report's id, time, overall status and score repeated on each
//! so the file filters and pivots in a spreadsheet without losing them.
//! Every text cell goes through `risk::csv_cell`, which defuses cells a
//! spreadsheet would run as a formula (check messages can quote data).

use super::ComplianceReport;
use crate::risk::csv_cell;

pub const REPORT_CSV_HEADER: [&str; 12] = [
    "report_id",
    "generated_at",
    "overall_status",
    "score",
    "check",
    "name",
    "severity",
    "status",
    "message",
    "recommendation",
    "controls",
    "ran_at",
];

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

pub fn report_csv(report: &ComplianceReport) -> String {
    let mut out = String::with_capacity(256 * (report.results.len() + 1));
    push_line(&mut out, REPORT_CSV_HEADER.iter().map(|h| (*h).to_owned()));
    let generated = report.generated_at.format(TIME_FORMAT).to_string();
    for r in &report.results {
        push_line(
            &mut out,
            [
                report.id.to_string(),
                generated.clone(),
                report.overall_status.as_str().to_owned(),
                report.score.to_string(),
                r.check.as_str().to_owned(),
                r.check.definition().name.to_owned(),
                r.severity.as_str().to_owned(),
                r.status.as_str().to_owned(),
                r.message.clone(),
                r.recommendation.clone().unwrap_or_default(),
                r.controls.join(" "),
                r.ran_at.format(TIME_FORMAT).to_string(),
            ],
        );
    }
    out
}

fn push_line(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(&cell));
    }
    out.push_str("\r\n");
}
