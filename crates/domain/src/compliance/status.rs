//! The tenant's overall compliance status and score from its latest check
//! results.
//!
//! How a result counts (its *standing*):
//! - PASSED → passed;
//! - FAILED with severity CRITICAL → a critical issue;
//! - FAILED with another severity, WARNING, and ERROR (any severity) → a
//!   warning. An ERROR is not evidence of a failure, but it is no evidence
//!   of compliance either: it keeps the status from COMPLIANT and costs
//!   like a warning, so a broken check cannot improve the score.
//!
//! Overall status: NON_COMPLIANT if there is a critical issue, otherwise
//! WARNING if there is a warning, else COMPLIANT.
//!
//! Score: `max(0, passed / total × 100 − 10 × critical_issues − 2 ×
//! warnings)`, rounded half up to one decimal. It is computed exactly in
//! integer tenths: `round(1000 × passed / total) − 100 × critical − 20 ×
//! warnings`, floored at 0 (subtracting whole numbers commutes with the
//! rounding). No result at all scores 0.0.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::check::{CheckId, CheckResult, CheckStatus, Severity};
use super::vocab::vocabulary;
use crate::time::Timestamp;

vocabulary!(
    OverallStatus, field = "overall_status" {
        NonCompliant => "NON_COMPLIANT",
        Warning => "WARNING",
        Compliant => "COMPLIANT",
    }
);

/// How one result counts towards status and score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Passed,
    Warning,
    CriticalIssue,
}

/// The standing of one result (see the module documentation).
pub fn standing(r: &CheckResult) -> Standing {
    match (r.status, r.severity) {
        (CheckStatus::Passed, _) => Standing::Passed,
        (CheckStatus::Failed, Severity::Critical) => Standing::CriticalIssue,
        (CheckStatus::Failed | CheckStatus::Warning | CheckStatus::Error, _) => Standing::Warning,
    }
}

/// A score from 0.0 to 100.0 in steps of 0.1, held as integer tenths so it
/// has one exact value (and one canonical encoding in signed reports). On
/// the wire it is a JSON number with at most one decimal (`87.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(u16);

impl Score {
    pub const ZERO: Score = Score(0);
    pub const MAX: Score = Score(1000);

    /// `None` above 1000 (100.0).
    pub const fn from_tenths(tenths: u16) -> Option<Self> {
        if tenths <= 1000 {
            Some(Score(tenths))
        } else {
            None
        }
    }

    pub const fn tenths(self) -> u16 {
        self.0
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    /// The value with exactly one decimal in this format, if `v` is one
    /// (the nearest `f64` to a number of tenths in 0.0..=100.0).
    pub fn from_f64(v: f64) -> Option<Self> {
        if !(0.0..=100.0).contains(&v) {
            return None;
        }
        let tenths = (v * 10.0).round();
        // In range, so the cast is exact; equality rejects 87.55 and such.
        let s = Score(tenths as u16);
        (s.as_f64() == v).then_some(s)
    }
}

impl fmt::Display for Score {
    /// `87.5`, `100.0`, `0.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Score::from_f64(v).ok_or_else(|| {
            serde::de::Error::custom("score must be 0.0..=100.0 with at most one decimal")
        })
    }
}

/// The score formula on counts (see the module documentation).
pub fn score_of_counts(
    passed: usize,
    total: usize,
    critical_issues: usize,
    warnings: usize,
) -> Score {
    if total == 0 {
        return Score::ZERO;
    }
    let (p, t) = (passed.min(total) as u128, total as u128);
    // round(1000 p / t), half up, exactly.
    let base = (2000 * p + t) / (2 * t);
    let penalty = 100 * critical_issues as u128 + 20 * warnings as u128;
    let tenths = base.saturating_sub(penalty);
    // base ≤ 1000, so the value fits.
    Score(u16::try_from(tenths).unwrap_or(1000))
}

/// The score of a set of results (one per check).
pub fn score_of(results: &[CheckResult]) -> Score {
    let count = |s: Standing| results.iter().filter(|r| standing(r) == s).count();
    score_of_counts(
        count(Standing::Passed),
        results.len(),
        count(Standing::CriticalIssue),
        count(Standing::Warning),
    )
}

/// The score as a number, e.g. `87.5`.
pub fn score(results: &[CheckResult]) -> f64 {
    score_of(results).as_f64()
}

/// NON_COMPLIANT, WARNING or COMPLIANT (see the module documentation).
pub fn overall_status(results: &[CheckResult]) -> OverallStatus {
    let standings = || results.iter().map(standing);
    if standings().any(|s| s == Standing::CriticalIssue) {
        OverallStatus::NonCompliant
    } else if standings().any(|s| s == Standing::Warning) {
        OverallStatus::Warning
    } else {
        OverallStatus::Compliant
    }
}

/// A result that is a critical issue or a warning, as listed in the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub check: CheckId,
    pub severity: Severity,
    pub status: CheckStatus,
    pub message: String,
}

impl Issue {
    fn of(r: &CheckResult) -> Self {
        Self {
            check: r.check,
            severity: r.severity,
            status: r.status,
            message: r.message.clone(),
        }
    }
}

/// `GET /api/v1/compliance/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceStatus {
    pub overall_status: OverallStatus,
    pub score: Score,
    pub critical_issues: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub ran_at: Timestamp,
}

/// Status, score and issue lists of `results` (one per check; see
/// `latest_results`). Issues are listed most severe first, then in check
/// order.
pub fn compliance_status(results: &[CheckResult], ran_at: Timestamp) -> ComplianceStatus {
    let issues = |s: Standing| {
        let mut v: Vec<Issue> = results
            .iter()
            .filter(|r| standing(r) == s)
            .map(Issue::of)
            .collect();
        v.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
        v
    };
    ComplianceStatus {
        overall_status: overall_status(results),
        score: score_of(results),
        critical_issues: issues(Standing::CriticalIssue),
        warnings: issues(Standing::Warning),
        ran_at,
    }
}

/// The most recent result of each check among `results` (a history), in
/// check order; ties keep the later one in the input.
pub fn latest_results<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Vec<CheckResult> {
    let mut latest: Vec<Option<&CheckResult>> = vec![None; CheckId::ALL.len()];
    for r in results {
        let slot = &mut latest[r.check as usize];
        if slot.is_none_or(|cur| r.ran_at >= cur.ran_at) {
            *slot = Some(r);
        }
    }
    latest.into_iter().flatten().cloned().collect()
}
