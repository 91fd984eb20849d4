//! The Statement of Applicability: for each of the 93 Annex A controls,
//! whether it applies, why (required when it does not), how far it is
//! implemented, who owns it, and the evidence: the checks and built-in
//! features that evidence it (automatically) plus the risk treatments
//! that plan it.

use serde::{Deserialize, Serialize};

use super::catalogue::{AnnexAControl, Theme, all_controls};
use super::check::DEFINITIONS;
use super::evidence::features_for;
use super::text::{MAX_PROSE_CHARS, prose};
use super::vocab::vocabulary;
use crate::ids::UserId;
use crate::risk::{ControlId, Problem, RiskId, TreatmentId, ValidationError};

vocabulary!(
    ImplementationStatus, field = "status" {
        NotStarted => "not_started",
        Partial => "partial",
        Implemented => "implemented",
    }
);

vocabulary!(
    EvidenceKind, field = "kind" {
        /// A compliance check (`ref` is its id).
        Check => "check",
        /// A built-in feature (`ref` is its key).
        Feature => "feature",
        /// A risk treatment that plans the control (`ref` is its id).
        Treatment => "treatment",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    #[serde(rename = "ref")]
    pub reference: String,
    pub description: String,
}

/// One row of the SoA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoaEntry {
    pub control_id: String,
    pub title: String,
    pub theme: Theme,
    pub applicable: bool,
    /// Why the control is (not) applicable; required when it is not.
    pub justification: Option<String>,
    pub status: ImplementationStatus,
    pub owner: Option<UserId>,
    pub evidence: Vec<Evidence>,
}

/// What a tenant stores per control: its decisions, not the evidence
/// (which is derived each time, so it never goes stale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoaDecision {
    pub control_id: String,
    pub applicable: bool,
    pub justification: Option<String>,
    pub status: ImplementationStatus,
    pub owner: Option<UserId>,
}

/// A partial update (PATCH): absent fields keep their value; for the
/// nullable ones, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoaPatch {
    #[serde(default)]
    pub applicable: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    pub justification: Option<Option<String>>,
    #[serde(default)]
    pub status: Option<ImplementationStatus>,
    #[serde(default, deserialize_with = "double_option")]
    pub owner: Option<Option<UserId>>,
}

/// Tells "absent" (`None`, by `default`) from "null" (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A risk treatment and the controls it plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreatmentLink {
    pub treatment_id: TreatmentId,
    pub risk_id: RiskId,
    pub planned_controls: Vec<ControlId>,
}

/// The automatic evidence of a control: checks, then features.
pub fn built_in_evidence(control_id: &str) -> Vec<Evidence> {
    let checks = DEFINITIONS
        .iter()
        .filter(|d| d.controls.contains(&control_id))
        .map(|d| Evidence {
            kind: EvidenceKind::Check,
            reference: d.id.as_str().to_owned(),
            description: d.name.to_owned(),
        });
    let features = features_for(control_id).map(|f| Evidence {
        kind: EvidenceKind::Feature,
        reference: f.key.to_owned(),
        description: f.description.to_owned(),
    });
    checks.chain(features).collect()
}

impl SoaEntry {
    /// A control's default row: applicable, not started, no owner, the
    /// built-in evidence.
    pub fn default_for(control: &AnnexAControl) -> Self {
        Self {
            control_id: control.id.clone(),
            title: control.title.clone(),
            theme: control.theme,
            applicable: true,
            justification: None,
            status: ImplementationStatus::NotStarted,
            owner: None,
            evidence: built_in_evidence(&control.id),
        }
    }

    /// Applies `patch`, all or nothing. Justification: prose, at most 2000
    /// characters, blank counts as none; required when not applicable.
    pub fn apply(&mut self, patch: &SoaPatch) -> Result<(), ValidationError> {
        let applicable = patch.applicable.unwrap_or(self.applicable);
        let justification = match &patch.justification {
            Some(j) => match j {
                Some(text) => {
                    Some(prose("justification", text, MAX_PROSE_CHARS)?).filter(|t| !t.is_empty())
                }
                None => None,
            },
            None => self.justification.clone(),
        };
        if !applicable && justification.is_none() {
            return Err(ValidationError::new(
                "justification",
                Problem::Inconsistent("is required when the control is not applicable"),
            ));
        }
        self.applicable = applicable;
        self.justification = justification;
        if let Some(s) = patch.status {
            self.status = s;
        }
        if let Some(o) = patch.owner {
            self.owner = o;
        }
        Ok(())
    }

    /// The decisions to store.
    pub fn decision(&self) -> SoaDecision {
        SoaDecision {
            control_id: self.control_id.clone(),
            applicable: self.applicable,
            justification: self.justification.clone(),
            status: self.status,
            owner: self.owner,
        }
    }
}

/// All 93 controls with their defaults.
pub fn default_soa() -> Vec<SoaEntry> {
    all_controls().iter().map(SoaEntry::default_for).collect()
}

/// A tenant's SoA: the defaults, overlaid with its stored decisions
/// (decisions for unknown controls are ignored), plus one `treatment`
/// evidence per treatment that plans a control.
pub fn build_soa(decisions: &[SoaDecision], treatments: &[TreatmentLink]) -> Vec<SoaEntry> {
    let mut soa = default_soa();
    // Each planned control's id once, not once per catalogue entry.
    let planned: Vec<(&TreatmentLink, Vec<String>)> = treatments
        .iter()
        .map(|t| {
            (
                t,
                t.planned_controls.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    for entry in &mut soa {
        if let Some(d) = decisions.iter().find(|d| d.control_id == entry.control_id) {
            entry.applicable = d.applicable;
            entry.justification = d.justification.clone();
            entry.status = d.status;
            entry.owner = d.owner;
        }
        for (t, ids) in &planned {
            if ids.contains(&entry.control_id) {
                entry.evidence.push(Evidence {
                    kind: EvidenceKind::Treatment,
                    reference: t.treatment_id.to_string(),
                    description: format!("planned by the treatment of risk {}", t.risk_id),
                });
            }
        }
    }
    soa
}
