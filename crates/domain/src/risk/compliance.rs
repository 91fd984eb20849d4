//! Register hygiene checks on one asset. These are not risk scores: an
//! asset can be low risk and still non-compliant because nobody owns it.

use serde::{Deserialize, Serialize};

use super::asset::{Asset, AssetStatus};
use super::classification::Classification;
use super::enums::string_enum;
use super::vulnerability::Vulnerability;
use crate::time::Timestamp;

string_enum!(
    /// What a finding is about; stable, for filtering and dashboards.
    FindingCode, field = "code" {
        AssetUnowned => "asset_unowned",
        ClassificationMissing => "classification_missing",
        ClassificationImplausible => "classification_implausible",
        ReviewNotScheduled => "review_not_scheduled",
        ReviewOverdue => "review_overdue",
        OpenCriticalVulnerability => "open_critical_vulnerability",
    }
);

string_enum!(
    Compliance, field = "compliance" {
        Compliant => "compliant",
        NonCompliant => "non_compliant",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: FindingCode,
    /// The ISO 27001:2022 Annex A control the finding falls under.
    pub control: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceStatus {
    pub status: Compliance,
    pub findings: Vec<Finding>,
}

impl ComplianceStatus {
    fn from_findings(findings: Vec<Finding>) -> Self {
        let status = if findings.is_empty() {
            Compliance::Compliant
        } else {
            Compliance::NonCompliant
        };
        Self { status, findings }
    }

    pub fn has(&self, code: FindingCode) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

fn finding(code: FindingCode, control: &str, message: String) -> Finding {
    Finding {
        code,
        control: control.to_owned(),
        message,
    }
}

/// The confidentiality rating a classification implies, as a range: a
/// label and a rating that disagree mean one of them is wrong, and either
/// way the controls chosen from them will be.
fn plausible_confidentiality(c: Classification) -> std::ops::RangeInclusive<u8> {
    match c {
        Classification::Public => 1..=2,
        Classification::Internal => 1..=3,
        Classification::Confidential => 2..=4,
        Classification::Restricted => 3..=4,
    }
}

/// Checks `asset` against the inventory rules: an owner (Annex A 5.9), a
/// classification consistent with its confidentiality rating (5.12), a
/// scheduled and not overdue review (5.9), and no open critical
/// vulnerability among `vulnerabilities` (8.8). Review rules do not apply
/// to disposed assets.
pub fn check_asset<'a>(
    asset: &Asset,
    vulnerabilities: impl IntoIterator<Item = &'a Vulnerability>,
    now: Timestamp,
) -> ComplianceStatus {
    let mut findings = Vec::new();
    if asset.owner.is_none() {
        findings.push(finding(
            FindingCode::AssetUnowned,
            "5.9",
            "the asset has no owner".to_owned(),
        ));
    }
    match asset.classification {
        None => findings.push(finding(
            FindingCode::ClassificationMissing,
            "5.12",
            "the asset is not classified".to_owned(),
        )),
        Some(c) => {
            let range = plausible_confidentiality(c);
            let rating = asset.confidentiality.get();
            if !range.contains(&rating) {
                findings.push(finding(
                    FindingCode::ClassificationImplausible,
                    "5.12",
                    format!(
                        "classification {c} expects a confidentiality rating of {} to {}, \
                         the asset is rated {rating}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
    }
    if asset.status != AssetStatus::Disposed {
        match asset.next_review_at {
            None => findings.push(finding(
                FindingCode::ReviewNotScheduled,
                "5.9",
                "no review of the asset is scheduled".to_owned(),
            )),
            Some(due) if due < now => findings.push(finding(
                FindingCode::ReviewOverdue,
                "5.9",
                format!("the asset review was due on {}", due.format("%Y-%m-%d")),
            )),
            Some(_) => {}
        }
    }
    let mut seen = Vec::new();
    for v in vulnerabilities {
        if v.is_open_critical() && !seen.contains(&v.id) {
            seen.push(v.id);
            let reference = v
                .cve
                .as_ref()
                .map_or_else(|| v.id.to_string(), |c| c.to_string());
            findings.push(finding(
                FindingCode::OpenCriticalVulnerability,
                "8.8",
                format!("open critical vulnerability {reference}: {}", v.name),
            ));
        }
    }
    ComplianceStatus::from_findings(findings)
}
