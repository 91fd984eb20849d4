//! The assessment engine (ISO 27001 6.1.2 d–e, 8.2): scores every
//! threat/vulnerability pair an asset is exposed to and takes the worst.
//! Pure and allocation-light: pairs are borrowed, and the only allocations
//! are the result's own vectors.

use serde::{Deserialize, Serialize};

use super::asset::Asset;
use super::cia::CiaSet;
use super::compliance::{ComplianceStatus, check_asset};
use super::config::RiskMatrixConfig;
use super::exposure::{Exposure, ForeignTenant, same_tenant};
use super::ids::{AssessmentId, AssetId, ThreatId, VulnerabilityId};
use super::level::RiskLevel;
use super::score::PairScore;
use super::threat::Threat;
use super::vulnerability::{Vulnerability, VulnerabilityStatus};
use crate::ids::{TenantId, UserId};
use crate::time::Timestamp;

/// Who ran an assessment: a person, or the scheduler re-assessing what
/// fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assessor {
    User { user_id: UserId },
    System,
}

/// Impact on the tenant's axis: the asset's highest rating over the
/// properties the threat targets, mapped through `impact_of_rating`, raised
/// to the classification floor. A threat targeting nothing (only possible
/// by bypassing `Threat::create`) gets the lowest rating.
pub fn impact_of(asset: &Asset, targets: CiaSet, config: &RiskMatrixConfig) -> u8 {
    let spec = config.spec();
    let rating = targets
        .iter()
        .map(|p| asset.rating(p).get())
        .max()
        .unwrap_or(1);
    let from_rating = spec.impact_of_rating[usize::from(rating.clamp(1, 4) - 1)];
    let floor = asset
        .classification
        .map_or(1, |c| spec.classification_impact_floor.get(c));
    from_rating.max(floor).clamp(1, config.impact_max())
}

/// Likelihood on the tenant's axis: the threat's base likelihood mapped
/// through `likelihood_of_base`, plus one adjustment for the weakness it
/// goes through, clamped to the axis.
pub fn likelihood_of(
    threat: &Threat,
    vulnerability: Option<&Vulnerability>,
    config: &RiskMatrixConfig,
) -> u8 {
    let spec = config.spec();
    let a = spec.likelihood_adjustments;
    let base = spec.likelihood_of_base[usize::from(threat.base_likelihood.value() - 1)];
    let step = match vulnerability {
        None => a.no_vulnerability,
        Some(v) => match v.status {
            VulnerabilityStatus::Open => a.open.get(v.severity),
            VulnerabilityStatus::Accepted => a.open.get(v.severity).saturating_add(a.accepted),
            VulnerabilityStatus::Mitigated => a.mitigated,
        },
    };
    let adjusted = i16::from(base) + i16::from(step);
    let clamped = adjusted.clamp(1, i16::from(config.likelihood_max()));
    u8::try_from(clamped).unwrap_or(1)
}

/// Scores one pair. Tenancy is not checked here; `assess` does that.
pub fn score_pair(
    asset: &Asset,
    threat: &Threat,
    vulnerability: Option<&Vulnerability>,
    config: &RiskMatrixConfig,
) -> PairScore {
    config.cell(
        impact_of(asset, threat.targets, config),
        likelihood_of(threat, vulnerability, config),
    )
}

/// One scored pair of an assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub threat_id: ThreatId,
    pub vulnerability_id: Option<VulnerabilityId>,
    pub impact: u8,
    pub likelihood: u8,
    pub score: u16,
    pub level: RiskLevel,
}

impl Contribution {
    pub const fn pair(&self) -> PairScore {
        PairScore {
            impact: self.impact,
            likelihood: self.likelihood,
            score: self.score,
            level: self.level,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentResult {
    pub id: AssessmentId,
    pub tenant_id: TenantId,
    pub asset_id: AssetId,
    /// The highest pair score; 0 when the asset has no exposures (pair
    /// scores start at 1, so 0 cannot be mistaken for a scored risk).
    pub risk_score: u16,
    /// The level of `risk_score`; `Low` for an asset with no exposures.
    pub risk_level: RiskLevel,
    pub required_mitigations: Vec<String>,
    pub next_assessment_due: Timestamp,
    /// One per pair, in input order.
    pub contributions: Vec<Contribution>,
    pub compliance_status: ComplianceStatus,
    pub assessed_at: Timestamp,
    pub assessor: Assessor,
}

impl AssessmentResult {
    /// Each pair as a register key and its score, to create or rescore
    /// the matching `Risk`.
    pub fn exposures(&self) -> impl Iterator<Item = (Exposure, PairScore)> + '_ {
        self.contributions.iter().map(|c| {
            (
                Exposure {
                    tenant_id: self.tenant_id,
                    asset_id: self.asset_id,
                    threat_id: c.threat_id,
                    vulnerability_id: c.vulnerability_id,
                },
                c.pair(),
            )
        })
    }

    /// The pair that set the asset's score (the first of equals).
    pub fn driver(&self) -> Option<&Contribution> {
        self.contributions
            .iter()
            .reduce(|best, c| if c.score > best.score { c } else { best })
    }
}

/// Assesses `asset` against owned pairs, as storage typically returns
/// them. See [`assess_pairs`].
pub fn assess(
    asset: &Asset,
    exposures: &[(Threat, Option<Vulnerability>)],
    config: &RiskMatrixConfig,
    now: Timestamp,
    assessor: Assessor,
) -> Result<AssessmentResult, ForeignTenant> {
    assess_pairs(
        asset,
        exposures.iter().map(|(t, v)| (t, v.as_ref())),
        config,
        now,
        assessor,
    )
}

/// Assesses `asset` against borrowed pairs, so one loaded threat
/// catalogue can serve every asset without copies. Fails only if a threat
/// or vulnerability belongs to another tenant.
pub fn assess_pairs<'a>(
    asset: &Asset,
    pairs: impl IntoIterator<Item = (&'a Threat, Option<&'a Vulnerability>)>,
    config: &RiskMatrixConfig,
    now: Timestamp,
    assessor: Assessor,
) -> Result<AssessmentResult, ForeignTenant> {
    let pairs = pairs.into_iter();
    let mut contributions = Vec::with_capacity(pairs.size_hint().0);
    // Open critical vulnerabilities are rare; collecting only those keeps
    // the common case free of a second vector.
    let mut open_critical: Vec<&Vulnerability> = Vec::new();
    for (threat, vulnerability) in pairs {
        same_tenant(asset.tenant_id, threat, vulnerability)?;
        let s = score_pair(asset, threat, vulnerability, config);
        contributions.push(Contribution {
            threat_id: threat.id,
            vulnerability_id: vulnerability.map(|v| v.id),
            impact: s.impact,
            likelihood: s.likelihood,
            score: s.score,
            level: s.level,
        });
        if let Some(v) = vulnerability.filter(|v| v.is_open_critical()) {
            open_critical.push(v);
        }
    }
    let risk_score = contributions.iter().map(|c| c.score).max().unwrap_or(0);
    let risk_level = if contributions.is_empty() {
        RiskLevel::Low
    } else {
        config.level_of(risk_score)
    };
    Ok(AssessmentResult {
        id: AssessmentId::new(),
        tenant_id: asset.tenant_id,
        asset_id: asset.id,
        risk_score,
        risk_level,
        required_mitigations: config.required_mitigations(risk_level).to_vec(),
        next_assessment_due: config.next_assessment_due(risk_level, now),
        contributions,
        compliance_status: check_asset(asset, open_critical, now),
        assessed_at: now,
        assessor,
    })
}
