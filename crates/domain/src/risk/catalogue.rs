//! The default threat catalogue: the example threats of ISO/IEC 27005
//! (Annex C of the 2011 edition), with the origins the standard marks and
//! this project's default targets and base likelihoods. A tenant copies
//! the templates it wants into its own threat register.

use serde::{Deserialize, Serialize};

use super::cia::CiaSet;
use super::enums::string_enum;
use super::error::{Problem, ValidationError};
use super::ids::ThreatId;
use super::likelihood::Likelihood;
use super::threat::{Threat, ThreatCategory, ThreatDraft};
use crate::ids::TenantId;
use crate::time::Timestamp;

/// The embedded catalogue; `default_threat_catalogue` parses it.
pub const DEFAULT_CATALOGUE_JSON: &str = include_str!("../../data/threat_catalogue.json");

pub const MAX_KEY_CHARS: usize = 64;

string_enum!(
    /// The threat types the standard groups its examples under.
    ThreatGroup, field = "group" {
        PhysicalDamage => "physical_damage",
        NaturalEvents => "natural_events",
        LossOfEssentialServices => "loss_of_essential_services",
        DisturbanceDueToRadiation => "disturbance_due_to_radiation",
        CompromiseOfInformation => "compromise_of_information",
        TechnicalFailures => "technical_failures",
        UnauthorisedActions => "unauthorised_actions",
        CompromiseOfFunctions => "compromise_of_functions",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatTemplate {
    /// Stable snake_case key, so a tenant's copy can be traced back.
    pub key: String,
    pub name: String,
    pub group: ThreatGroup,
    /// Every origin the standard marks for this threat.
    pub origins: Vec<ThreatCategory>,
    /// The origin a new threat starts with; one of `origins`.
    pub category: ThreatCategory,
    pub targets: CiaSet,
    pub base_likelihood: Likelihood,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[allow(dead_code)]
    source: String,
    threats: Vec<ThreatTemplate>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("threat catalogue is not valid JSON of the expected shape: {0}")]
    Format(#[from] serde_json::Error),
    #[error("threat catalogue entry {index}: {error}")]
    Entry {
        index: usize,
        error: ValidationError,
    },
}

impl ThreatTemplate {
    fn validate(&self) -> Result<(), ValidationError> {
        let key_ok = !self.key.is_empty()
            && self.key.len() <= MAX_KEY_CHARS
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(ValidationError::new(
                "key",
                Problem::Malformed {
                    expected: "snake_case of at most 64 characters",
                },
            ));
        }
        if self.origins.is_empty() {
            return Err(ValidationError::new("origins", Problem::Empty));
        }
        if !self.origins.contains(&self.category) {
            return Err(ValidationError::new(
                "category",
                Problem::Inconsistent("must be one of origins"),
            ));
        }
        // The rest are the rules of a tenant's own threats.
        Threat::create(
            TenantId::from_uuid(uuid::Uuid::nil()),
            self.draft(),
            Timestamp::MIN_UTC,
        )
        .map(|_| ())
    }

    /// The template as the body of a new threat, for a tenant to edit.
    pub fn draft(&self) -> ThreatDraft {
        ThreatDraft {
            name: self.name.clone(),
            category: self.category,
            source: None,
            description: self.description.clone(),
            targets: self.targets,
            base_likelihood: self.base_likelihood,
        }
    }

    /// A threat of `tenant` made from the template as it is. Templates
    /// passed the threat rules when the catalogue was parsed.
    pub fn instantiate(&self, tenant_id: TenantId, now: Timestamp) -> Threat {
        Threat {
            id: ThreatId::new(),
            tenant_id,
            name: self.name.trim().to_owned(),
            category: self.category,
            source: None,
            description: self.description.trim().to_owned(),
            targets: self.targets,
            base_likelihood: self.base_likelihood,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }
}

/// Parses and checks a catalogue: every entry valid, keys and names unique.
pub fn parse_threat_catalogue(json: &str) -> Result<Vec<ThreatTemplate>, CatalogueError> {
    let file: CatalogueFile = serde_json::from_str(json)?;
    for (index, t) in file.threats.iter().enumerate() {
        let entry = |error| CatalogueError::Entry { index, error };
        t.validate().map_err(entry)?;
        let earlier = &file.threats[..index];
        if earlier.iter().any(|e| e.key == t.key) {
            return Err(entry(ValidationError::new("key", Problem::Duplicate)));
        }
        if earlier
            .iter()
            .any(|e| e.name.trim().eq_ignore_ascii_case(t.name.trim()))
        {
            return Err(entry(ValidationError::new("name", Problem::Duplicate)));
        }
    }
    Ok(file.threats)
}

/// The built-in catalogue. A test pins that the embedded file parses, so
/// the empty fallback exists only to avoid a panic path in production.
pub fn default_threat_catalogue() -> Vec<ThreatTemplate> {
    parse_threat_catalogue(DEFAULT_CATALOGUE_JSON).unwrap_or_default()
}
