//! Compliance reports: the model, its builder, the canonical encoding it
//! is signed in, Ed25519 signing and verification, and CSV rendering.

mod canonical;
mod csv;
mod sign;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

pub use canonical::{FloatInCanonical, write_canonical};
pub use csv::{REPORT_CSV_HEADER, report_csv};
pub use sign::{
    REPORT_SIGNATURE_CONTEXT, ReportError, SignedReport, canonical_report_bytes, report_key_id,
    sign_report, signing_message, verify_report,
};

use super::check::{CheckId, CheckResult, CheckStatus, Severity};
use super::ids::ReportId;
use super::status::{Issue, OverallStatus, Score, compliance_status};
use crate::audit::Hash;
use crate::ids::TenantId;
use crate::risk::{AssetId, PerLevel, RiskId, RiskLevel};
use crate::time::Timestamp;

/// The period a report covers: the 30 days before it was generated.
pub const REPORT_PERIOD_DAYS: i64 = 30;
/// The next review is due this many days after a report.
pub const NEXT_REVIEW_DAYS: i64 = 30;
/// How many risks the summary lists by default.
pub const DEFAULT_TOP_RISKS: usize = 10;

/// One deduplicated recommendation and the checks that gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The highest severity among the checks that gave it.
    pub severity: Severity,
    pub text: String,
    pub checks: Vec<CheckId>,
}

/// One of the highest risks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopRisk {
    pub id: RiskId,
    pub asset_id: AssetId,
    /// The asset's name.
    pub asset: String,
    pub score: u32,
    pub level: RiskLevel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskSummary {
    /// Risks per current level.
    pub counts: PerLevel<u64>,
    /// The highest first (score, then level, then id).
    pub top_risks: Vec<TopRisk>,
}

impl RiskSummary {
    /// Counts every risk and keeps the `top_n` highest.
    pub fn from_risks(mut risks: Vec<TopRisk>, top_n: usize) -> Self {
        let mut counts = PerLevel {
            low: 0,
            medium: 0,
            high: 0,
            critical: 0,
        };
        for r in &risks {
            let slot = match r.level {
                RiskLevel::Low => &mut counts.low,
                RiskLevel::Medium => &mut counts.medium,
                RiskLevel::High => &mut counts.high,
                RiskLevel::Critical => &mut counts.critical,
            };
            *slot += 1;
        }
        risks.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(b.level.cmp(&a.level))
                .then(a.id.cmp(&b.id))
        });
        risks.truncate(top_n);
        Self {
            counts,
            top_risks: risks,
        }
    }
}

/// The audit checkpoint a report was built against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCheckpoint {
    pub tree_size: u64,
    /// Standard base64 of the 32-byte Merkle root.
    pub root_hash: String,
}

impl ReportCheckpoint {
    pub fn new(tree_size: u64, root_hash: &Hash) -> Self {
        Self {
            tree_size,
            root_hash: B64.encode(root_hash),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Audit events in the report period.
    pub events: u64,
    /// Security alerts raised in the period.
    pub alerts: u64,
    /// The last integrity verification found no fault.
    pub integrity_ok: bool,
    pub checkpoint: ReportCheckpoint,
}

/// A compliance report (JSON; CSV and PDF are renderings of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    pub id: ReportId,
    pub tenant_id: TenantId,
    pub generated_at: Timestamp,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub overall_status: OverallStatus,
    pub score: Score,
    pub results: Vec<CheckResult>,
    pub critical_issues: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub recommendations: Vec<Recommendation>,
    pub risk_summary: RiskSummary,
    pub audit_summary: AuditSummary,
    pub next_review_date: NaiveDate,
}

/// Recommendations of the results that did not pass, one per distinct
/// text, most severe first (then in check order).
pub fn recommendations(results: &[CheckResult]) -> Vec<Recommendation> {
    let mut out: Vec<Recommendation> = Vec::new();
    let mut sorted: Vec<&CheckResult> = results
        .iter()
        .filter(|r| r.status != CheckStatus::Passed)
        .collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
    for r in sorted {
        let Some(text) = r.recommendation.as_deref().map(str::trim) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        match out.iter_mut().find(|x| x.text == text) {
            // Sorted by severity, so the first holder has the highest.
            Some(x) if !x.checks.contains(&r.check) => x.checks.push(r.check),
            Some(_) => {}
            None => out.push(Recommendation {
                severity: r.severity,
                text: text.to_owned(),
                checks: vec![r.check],
            }),
        }
    }
    out
}

/// Builds a report from the latest result of each check (see
/// `status::latest_results`) and the summaries, generated at `now`.
pub fn build_report(
    tenant_id: TenantId,
    mut results: Vec<CheckResult>,
    risk_summary: RiskSummary,
    audit_summary: AuditSummary,
    now: Timestamp,
) -> ComplianceReport {
    results.sort_by_key(|r| r.check);
    let status = compliance_status(&results, now);
    ComplianceReport {
        id: ReportId::new(),
        tenant_id,
        generated_at: now,
        period_start: now - Duration::days(REPORT_PERIOD_DAYS),
        period_end: now,
        overall_status: status.overall_status,
        score: status.score,
        critical_issues: status.critical_issues,
        warnings: status.warnings,
        recommendations: recommendations(&results),
        results,
        risk_summary,
        audit_summary,
        next_review_date: (now + Duration::days(NEXT_REVIEW_DAYS)).date_naive(),
    }
}
