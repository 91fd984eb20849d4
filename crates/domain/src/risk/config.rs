//! The tenant's risk method (ISO 27001 6.1.2 b: criteria for performing
//! assessments): matrix size, level thresholds, what each level requires
//! and how entity ratings map onto the matrix. All of it is data; the
//! engine reads it and never hard-codes a number.

use chrono::{DateTime, Days, Utc};
use serde::{Deserialize, Serialize};

use super::classification::Classification;
use super::error::{Problem, ValidationError};
use super::level::{PerLevel, RiskLevel};
use super::score::PairScore;
use super::vulnerability::Severity;
use crate::time::Timestamp;

/// Axes shorter than two cannot rank anything; longer than ten nobody can
/// rate consistently.
pub const MIN_AXIS_LEVELS: usize = 2;
pub const MAX_AXIS_LEVELS: usize = 10;
pub const MAX_LEVEL_NAME_CHARS: usize = 64;
pub const MAX_MITIGATIONS_PER_LEVEL: usize = 20;
pub const MAX_MITIGATION_CHARS: usize = 200;
/// Ten years: a review interval beyond that is not a review.
pub const MAX_REVIEW_INTERVAL_DAYS: u32 = 3_650;

/// Lowest score of each band above `Low`. Scores below `medium` are `Low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelThresholds {
    pub medium: u16,
    pub high: u16,
    pub critical: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerClassification<T> {
    pub public: T,
    pub internal: T,
    pub confidential: T,
    pub restricted: T,
}

impl<T: Copy> PerClassification<T> {
    pub const fn get(&self, c: Classification) -> T {
        match c {
            Classification::Public => self.public,
            Classification::Internal => self.internal,
            Classification::Confidential => self.confidential,
            Classification::Restricted => self.restricted,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerSeverity<T> {
    pub low: T,
    pub medium: T,
    pub high: T,
    pub critical: T,
}

impl<T: Copy> PerSeverity<T> {
    pub const fn get(&self, s: Severity) -> T {
        match s {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }
}

/// Steps added to a threat's likelihood for the weakness it goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikelihoodAdjustments {
    /// For an open vulnerability, by severity.
    pub open: PerSeverity<i8>,
    /// Added to `open[severity]` for an accepted vulnerability: accepting
    /// is a decision, not a control, so the default is 0.
    pub accepted: i8,
    /// Replaces the severity step once a vulnerability is mitigated.
    pub mitigated: i8,
    /// For an exposure with no known vulnerability.
    pub no_vulnerability: i8,
}

/// The configuration as a tenant writes it. Turn it into a
/// [`RiskMatrixConfig`] (which validates) before scoring anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskMatrixSpec {
    /// Impact axis names, lowest first; the length is the axis size.
    pub impact_levels: Vec<String>,
    /// Likelihood axis names, lowest first.
    pub likelihood_levels: Vec<String>,
    pub thresholds: LevelThresholds,
    pub required_mitigations: PerLevel<Vec<String>>,
    /// Days from an assessment to the next one, by the level found.
    pub review_interval_days: PerLevel<u32>,
    /// Impact level for an asset CIA rating of 1, 2, 3, 4.
    pub impact_of_rating: [u8; 4],
    /// Likelihood level for a threat's base likelihood rare..almost_certain.
    pub likelihood_of_base: [u8; 5],
    /// Lowest impact an asset of each classification can have, whatever
    /// its CIA ratings say (1 = no floor).
    pub classification_impact_floor: PerClassification<u8>,
    pub likelihood_adjustments: LikelihoodAdjustments,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for RiskMatrixSpec {
    fn default() -> Self {
        Self {
            impact_levels: names(&["low", "medium", "high", "critical"]),
            likelihood_levels: names(&["rare", "unlikely", "possible", "likely", "almost_certain"]),
            thresholds: LevelThresholds {
                medium: 6,
                high: 10,
                critical: 15,
            },
            required_mitigations: PerLevel {
                low: Vec::new(),
                medium: names(&[
                    "management approval",
                    "mitigation plan within 90 days",
                    "regular risk monitoring",
                ]),
                high: names(&[
                    "senior management approval",
                    "detailed mitigation plan within 30 days",
                    "regular monitoring and reporting",
                    "security control enhancement",
                ]),
                critical: names(&[
                    "immediate mitigation",
                    "board-level approval",
                    "independent security review",
                    "insurance coverage review",
                    "business continuity plan activation",
                ]),
            },
            review_interval_days: PerLevel {
                low: 365,
                medium: 180,
                high: 90,
                critical: 30,
            },
            impact_of_rating: [1, 2, 3, 4],
            likelihood_of_base: [1, 2, 3, 4, 5],
            // Restricted data is by definition data whose disclosure does
            // serious harm, so it never scores below "high"; confidential
            // never below "medium". Internal and public add nothing the
            // ratings do not already say.
            classification_impact_floor: PerClassification {
                public: 1,
                internal: 1,
                confidential: 2,
                restricted: 3,
            },
            likelihood_adjustments: LikelihoodAdjustments {
                open: PerSeverity {
                    low: -1,
                    medium: 0,
                    high: 1,
                    critical: 1,
                },
                accepted: 0,
                mitigated: -2,
                no_vulnerability: -1,
            },
        }
    }
}

fn axis(field: &'static str, levels: &[String]) -> Result<u8, ValidationError> {
    if levels.len() < MIN_AXIS_LEVELS || levels.len() > MAX_AXIS_LEVELS {
        return Err(ValidationError::out_of_range(
            field,
            MIN_AXIS_LEVELS as i64,
            MAX_AXIS_LEVELS as i64,
        ));
    }
    for (i, name) in levels.iter().enumerate() {
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new(field, Problem::Empty));
        }
        if trimmed.chars().count() > MAX_LEVEL_NAME_CHARS {
            return Err(ValidationError::new(
                field,
                Problem::TooLong {
                    max_chars: MAX_LEVEL_NAME_CHARS,
                },
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(field, Problem::ControlCharacter));
        }
        if levels[..i].iter().any(|n| n.trim() == trimmed) {
            return Err(ValidationError::new(field, Problem::Duplicate));
        }
    }
    u8::try_from(levels.len()).map_err(|_| {
        ValidationError::out_of_range(field, MIN_AXIS_LEVELS as i64, MAX_AXIS_LEVELS as i64)
    })
}

/// Every value within 1..=max and never lower than the one before.
fn mapping(field: &'static str, values: &[u8], max: u8) -> Result<(), ValidationError> {
    if values.iter().any(|v| !(1..=max).contains(v)) {
        return Err(ValidationError::out_of_range(field, 1, i64::from(max)));
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        return Err(ValidationError::new(field, Problem::NotMonotone));
    }
    Ok(())
}

impl RiskMatrixSpec {
    /// Checks the spec is usable: axes of 2..=10 distinct names, thresholds
    /// strictly increasing inside the score range (so every level is
    /// reachable), mappings inside the axes and monotone, review intervals
    /// no longer for a higher level than for a lower one.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let impact_max = axis("impact_levels", &self.impact_levels)?;
        let likelihood_max = axis("likelihood_levels", &self.likelihood_levels)?;
        let max_score = u16::from(impact_max) * u16::from(likelihood_max);

        let t = self.thresholds;
        let in_range = |field, v: u16, lo: u16| {
            if v < lo || v > max_score {
                Err(ValidationError::out_of_range(
                    field,
                    i64::from(lo),
                    i64::from(max_score),
                ))
            } else {
                Ok(())
            }
        };
        // `medium` starts at 2 so that `Low` keeps at least score 1.
        in_range("thresholds.medium", t.medium, 2)?;
        in_range("thresholds.high", t.high, t.medium.saturating_add(1))?;
        in_range("thresholds.critical", t.critical, t.high.saturating_add(1))?;

        for (_, list) in self.required_mitigations.iter() {
            if list.len() > MAX_MITIGATIONS_PER_LEVEL {
                return Err(ValidationError::new(
                    "required_mitigations",
                    Problem::TooMany {
                        max: MAX_MITIGATIONS_PER_LEVEL,
                    },
                ));
            }
            for m in list {
                if m.trim().is_empty() {
                    return Err(ValidationError::new("required_mitigations", Problem::Empty));
                }
                if m.chars().count() > MAX_MITIGATION_CHARS {
                    return Err(ValidationError::new(
                        "required_mitigations",
                        Problem::TooLong {
                            max_chars: MAX_MITIGATION_CHARS,
                        },
                    ));
                }
                if m.chars().any(char::is_control) {
                    return Err(ValidationError::new(
                        "required_mitigations",
                        Problem::ControlCharacter,
                    ));
                }
            }
        }

        let days: Vec<u32> = self.review_interval_days.iter().map(|(_, d)| *d).collect();
        if days
            .iter()
            .any(|d| !(1..=MAX_REVIEW_INTERVAL_DAYS).contains(d))
        {
            return Err(ValidationError::out_of_range(
                "review_interval_days",
                1,
                i64::from(MAX_REVIEW_INTERVAL_DAYS),
            ));
        }
        if days.windows(2).any(|w| w[0] < w[1]) {
            return Err(ValidationError::new(
                "review_interval_days",
                Problem::Inconsistent("a higher level must not be reviewed less often"),
            ));
        }

        mapping("impact_of_rating", &self.impact_of_rating, impact_max)?;
        mapping(
            "likelihood_of_base",
            &self.likelihood_of_base,
            likelihood_max,
        )?;
        let f = self.classification_impact_floor;
        mapping(
            "classification_impact_floor",
            &[f.public, f.internal, f.confidential, f.restricted],
            impact_max,
        )?;

        let a = self.likelihood_adjustments;
        let reach = i64::from(likelihood_max) - 1;
        for v in [
            a.open.low,
            a.open.medium,
            a.open.high,
            a.open.critical,
            a.accepted,
            a.mitigated,
            a.no_vulnerability,
        ] {
            if i64::from(v).abs() > reach {
                return Err(ValidationError::out_of_range(
                    "likelihood_adjustments",
                    -reach,
                    reach,
                ));
            }
        }
        Ok(())
    }
}

/// A validated [`RiskMatrixSpec`]. Only obtainable through validation
/// (`try_from`, or deserialising, which validates too), so the engine can
/// index its tables without checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RiskMatrixSpec", into = "RiskMatrixSpec")]
pub struct RiskMatrixConfig {
    spec: RiskMatrixSpec,
    impact_max: u8,
    likelihood_max: u8,
}

impl TryFrom<RiskMatrixSpec> for RiskMatrixConfig {
    type Error = ValidationError;
    fn try_from(spec: RiskMatrixSpec) -> Result<Self, Self::Error> {
        spec.validate()?;
        let impact_max = axis("impact_levels", &spec.impact_levels)?;
        let likelihood_max = axis("likelihood_levels", &spec.likelihood_levels)?;
        Ok(Self {
            spec,
            impact_max,
            likelihood_max,
        })
    }
}

impl From<RiskMatrixConfig> for RiskMatrixSpec {
    fn from(c: RiskMatrixConfig) -> Self {
        c.spec
    }
}

impl Default for RiskMatrixConfig {
    /// The 4 × 5 method of the ISMS manual. Constructed directly: the spec
    /// is a constant whose validity a unit test pins.
    fn default() -> Self {
        Self {
            spec: RiskMatrixSpec::default(),
            impact_max: 4,
            likelihood_max: 5,
        }
    }
}

impl RiskMatrixConfig {
    pub fn spec(&self) -> &RiskMatrixSpec {
        &self.spec
    }

    pub const fn impact_max(&self) -> u8 {
        self.impact_max
    }

    pub const fn likelihood_max(&self) -> u8 {
        self.likelihood_max
    }

    pub const fn max_score(&self) -> u16 {
        self.impact_max as u16 * self.likelihood_max as u16
    }

    pub fn level_of(&self, score: u16) -> RiskLevel {
        let t = self.spec.thresholds;
        if score >= t.critical {
            RiskLevel::Critical
        } else if score >= t.high {
            RiskLevel::High
        } else if score >= t.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }

    /// Scores a cell given on the tenant's axes (as a residual estimate
    /// is), rejecting values off the matrix.
    pub fn score(&self, impact: u8, likelihood: u8) -> Result<PairScore, ValidationError> {
        if !(1..=self.impact_max).contains(&impact) {
            return Err(ValidationError::out_of_range(
                "impact",
                1,
                i64::from(self.impact_max),
            ));
        }
        if !(1..=self.likelihood_max).contains(&likelihood) {
            return Err(ValidationError::out_of_range(
                "likelihood",
                1,
                i64::from(self.likelihood_max),
            ));
        }
        Ok(self.cell(impact, likelihood))
    }

    /// For values the engine derived itself and already clamped.
    pub(crate) fn cell(&self, impact: u8, likelihood: u8) -> PairScore {
        let score = u16::from(impact) * u16::from(likelihood);
        PairScore {
            impact,
            likelihood,
            score,
            level: self.level_of(score),
        }
    }

    pub fn required_mitigations(&self, level: RiskLevel) -> &[String] {
        self.spec.required_mitigations.get(level)
    }

    pub fn review_interval_days(&self, level: RiskLevel) -> u32 {
        *self.spec.review_interval_days.get(level)
    }

    /// When an assessment finding `level` at `from` must be repeated.
    pub fn next_assessment_due(&self, level: RiskLevel, from: Timestamp) -> Timestamp {
        from.checked_add_days(Days::new(u64::from(self.review_interval_days(level))))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The name of impact level `n` (1-based), if on the axis.
    pub fn impact_name(&self, n: u8) -> Option<&str> {
        let i = usize::from(n).checked_sub(1)?;
        self.spec.impact_levels.get(i).map(String::as_str)
    }

    /// The name of likelihood level `n` (1-based), if on the axis.
    pub fn likelihood_name(&self, n: u8) -> Option<&str> {
        let i = usize::from(n).checked_sub(1)?;
        self.spec.likelihood_levels.get(i).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_built_in_default_is_valid_and_matches_its_cached_axes() {
        let built = RiskMatrixConfig::try_from(RiskMatrixSpec::default()).unwrap();
        assert_eq!(built, RiskMatrixConfig::default());
        assert_eq!(built.max_score(), 20);
    }

    #[test]
    fn deserialising_validates() {
        let mut spec = RiskMatrixSpec::default();
        spec.thresholds.high = 5;
        let json = serde_json::to_string(&spec).unwrap();
        let err = serde_json::from_str::<RiskMatrixConfig>(&json).unwrap_err();
        assert!(err.to_string().contains("thresholds.high"), "{err}");
        let good = serde_json::to_string(&RiskMatrixConfig::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<RiskMatrixConfig>(&good).unwrap(),
            RiskMatrixConfig::default()
        );
    }

    #[test]
    fn level_names_are_one_based() {
        let c = RiskMatrixConfig::default();
        assert_eq!(c.impact_name(1), Some("low"));
        assert_eq!(c.likelihood_name(5), Some("almost_certain"));
        assert_eq!(c.impact_name(0), None);
        assert_eq!(c.impact_name(5), None);
    }
}
