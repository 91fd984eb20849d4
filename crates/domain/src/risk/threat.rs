//! Threats: potential causes of an unwanted incident (ISO/IEC 27000 3.74).

use serde::{Deserialize, Serialize};

use super::cia::CiaSet;
use super::enums::string_enum;
use super::error::{Problem, ValidationError};
use super::ids::ThreatId;
use super::likelihood::Likelihood;
use super::text;
use crate::ids::TenantId;
use crate::time::Timestamp;

string_enum!(
    /// The origin marks of the ISO/IEC 27005 threat list: D, A and E.
    ThreatCategory, field = "category" {
        Deliberate => "deliberate",
        Accidental => "accidental",
        Environmental => "environmental",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threat {
    pub id: ThreatId,
    pub tenant_id: TenantId,
    pub name: String,
    pub category: ThreatCategory,
    /// Who or what brings the threat about (an attacker profile, staff,
    /// nature, a supplier).
    pub source: Option<String>,
    pub description: String,
    /// Never empty: a threat that harms no property has no impact to score.
    pub targets: CiaSet,
    pub base_likelihood: Likelihood,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreatDraft {
    pub name: String,
    pub category: ThreatCategory,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub description: String,
    pub targets: CiaSet,
    pub base_likelihood: Likelihood,
}

struct ValidThreat {
    name: String,
    source: Option<String>,
    description: String,
}

impl ThreatDraft {
    fn validate(&self) -> Result<ValidThreat, ValidationError> {
        let name = text::line("name", &self.name, text::MAX_NAME_CHARS)?;
        let source = text::optional_line("source", self.source.as_deref(), text::MAX_LABEL_CHARS)?;
        let description = text::prose(
            "description",
            &self.description,
            text::MAX_DESCRIPTION_CHARS,
        )?;
        if self.targets.is_empty() {
            return Err(ValidationError::new("targets", Problem::Empty));
        }
        Ok(ValidThreat {
            name,
            source,
            description,
        })
    }
}

impl Threat {
    pub fn create(
        tenant_id: TenantId,
        draft: ThreatDraft,
        now: Timestamp,
    ) -> Result<Self, ValidationError> {
        let v = draft.validate()?;
        Ok(Self {
            id: ThreatId::new(),
            tenant_id,
            name: v.name,
            category: draft.category,
            source: v.source,
            description: v.description,
            targets: draft.targets,
            base_likelihood: draft.base_likelihood,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
    }

    /// Replaces the editable fields, all or nothing.
    pub fn apply(&mut self, draft: ThreatDraft, now: Timestamp) -> Result<(), ValidationError> {
        let v = draft.validate()?;
        self.name = v.name;
        self.category = draft.category;
        self.source = v.source;
        self.description = v.description;
        self.targets = draft.targets;
        self.base_likelihood = draft.base_likelihood;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::cia::CiaProperty;

    #[test]
    fn a_threat_must_target_something() {
        let mut d = ThreatDraft {
            name: "Eavesdropping".into(),
            category: ThreatCategory::Deliberate,
            source: None,
            description: String::new(),
            targets: CiaSet::EMPTY,
            base_likelihood: Likelihood::Possible,
        };
        let now = crate::time::now();
        let err = Threat::create(TenantId::new(), d.clone(), now).err();
        assert_eq!(err.map(|e| e.field), Some("targets"));
        d.targets = CiaSet::of(&[CiaProperty::Confidentiality]);
        let t = Threat::create(TenantId::new(), d, now);
        assert!(t.is_ok_and(|t| t.targets.contains(CiaProperty::Confidentiality)));
    }
}
