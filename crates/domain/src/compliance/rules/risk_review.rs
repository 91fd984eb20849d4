//! `risk_review`: assets are reassessed on schedule and every CRITICAL or
//! HIGH risk has an approved treatment (ISO 27001 clauses 6.1.2, 6.1.3,
//! 8.2, 8.3; Annex A 5.9 inventory kept current, 8.8 vulnerabilities
//! acted upon).

use serde_json::json;

use super::{Findings, count, listed};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::risk::{AssetId, RiskId, RiskLevel};
use crate::time::Timestamp;

/// An asset's assessment schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetReview {
    pub id: AssetId,
    /// `None`: never scheduled.
    pub next_assessment_due: Option<Timestamp>,
}

/// A risk's current level and whether a treatment for it is approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskTreatmentState {
    pub id: RiskId,
    pub asset_id: AssetId,
    pub level: RiskLevel,
    pub treatment_approved: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskReviewInput {
    /// Active assets only.
    pub assets: Vec<AssetReview>,
    pub risks: Vec<RiskTreatmentState>,
}

/// - a CRITICAL or HIGH risk without an approved treatment → FAILED;
/// - an asset whose next assessment is past (strictly before `now`) or
///   was never scheduled → WARNING.
pub fn risk_review(input: &RiskReviewInput, config: &CheckConfig, now: Timestamp) -> CheckResult {
    let overdue: Vec<AssetId> = input
        .assets
        .iter()
        .filter(|a| a.next_assessment_due.is_some_and(|d| d < now))
        .map(|a| a.id)
        .collect();
    let unscheduled: Vec<AssetId> = input
        .assets
        .iter()
        .filter(|a| a.next_assessment_due.is_none())
        .map(|a| a.id)
        .collect();
    let untreated = |level: RiskLevel| -> Vec<RiskId> {
        input
            .risks
            .iter()
            .filter(|r| r.level == level && !r.treatment_approved)
            .map(|r| r.id)
            .collect()
    };
    let critical = untreated(RiskLevel::Critical);
    let high = untreated(RiskLevel::High);
    let per_level = |l: RiskLevel| input.risks.iter().filter(|r| r.level == l).count();

    let mut f = Findings::new();
    f.add(
        critical.len() + high.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} without an approved treatment ({} CRITICAL, {} HIGH)",
                count(critical.len() + high.len(), "risk", "risks"),
                critical.len(),
                high.len()
            )
        },
        "Propose and approve treatments for CRITICAL and HIGH risks.",
    );
    f.add(
        overdue.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} overdue for reassessment",
                count(overdue.len(), "asset", "assets")
            )
        },
        "Reassess the listed assets and schedule their next assessment.",
    );
    f.add(
        unscheduled.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} with no assessment scheduled",
                count(unscheduled.len(), "asset", "assets")
            )
        },
        "Reassess the listed assets and schedule their next assessment.",
    );
    let details = json!({
        "assets_checked": input.assets.len(),
        "risks_checked": input.risks.len(),
        "assessment_overdue": listed(&overdue),
        "assessment_unscheduled": listed(&unscheduled),
        "untreated_critical": listed(&critical),
        "untreated_high": listed(&high),
        "risks_per_level": {
            "critical": per_level(RiskLevel::Critical),
            "high": per_level(RiskLevel::High),
            "medium": per_level(RiskLevel::Medium),
            "low": per_level(RiskLevel::Low),
        },
    });
    let passed = format!(
        "{} assessed on schedule, every CRITICAL and HIGH risk treated",
        count(input.assets.len(), "asset", "assets")
    );
    f.finish(CheckId::RiskReview, config, passed, details, now)
}
