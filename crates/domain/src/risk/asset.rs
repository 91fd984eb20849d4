//! Assets: the inventory of information and associated assets with their
//! owners (Annex A 5.9) and classification (Annex A 5.12).

use serde::{Deserialize, Serialize};

use super::cia::CiaProperty;
use super::classification::Classification;
use super::enums::string_enum;
use super::error::{Problem, ValidationError};
use super::ids::AssetId;
use super::rating::{BusinessValue, Rating};
use super::text;
use crate::ids::{TenantId, UserId};
use crate::time::{Timestamp, truncate};

string_enum!(
    /// What kind of thing an asset is (the primary/supporting asset types
    /// of ISO/IEC 27005, flattened).
    AssetType, field = "asset_type" {
        Information => "information",
        Software => "software",
        Hardware => "hardware",
        Service => "service",
        People => "people",
        Site => "site",
    }
);

string_enum!(
    /// Where an asset is in its life. `Disposed` is final: the record stays
    /// as evidence of secure disposal (Annex A 7.14) and is not edited.
    AssetStatus, field = "status" {
        Planned => "planned",
        Active => "active",
        Retired => "retired",
        Disposed => "disposed",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub id: AssetId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub asset_type: AssetType,
    /// The accountable owner (Annex A 5.9); unowned assets are a finding.
    pub owner: Option<UserId>,
    /// Who looks after the asset day to day, often a team or a supplier,
    /// hence free text rather than a user.
    pub custodian: Option<String>,
    /// `None` while the asset is not yet classified, which is a finding.
    pub classification: Option<Classification>,
    pub confidentiality: Rating,
    pub integrity: Rating,
    pub availability: Rating,
    pub business_value: BusinessValue,
    pub location: Option<String>,
    pub tags: Vec<String>,
    pub status: AssetStatus,
    pub last_reviewed_at: Option<Timestamp>,
    pub next_review_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

/// The caller-editable part of an asset, as a create or replace body
/// carries it. Raw values, so that `Asset::create` can name the field that
/// is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetDraft {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub asset_type: AssetType,
    #[serde(default)]
    pub owner: Option<UserId>,
    #[serde(default)]
    pub custodian: Option<String>,
    #[serde(default)]
    pub classification: Option<Classification>,
    pub confidentiality: u8,
    pub integrity: u8,
    pub availability: u8,
    pub business_value: u8,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "default_status")]
    pub status: AssetStatus,
    #[serde(default)]
    pub next_review_at: Option<Timestamp>,
}

fn default_status() -> AssetStatus {
    AssetStatus::Active
}

/// A draft that passed validation, ready to be written into an asset.
struct ValidAsset {
    name: String,
    description: String,
    custodian: Option<String>,
    confidentiality: Rating,
    integrity: Rating,
    availability: Rating,
    business_value: BusinessValue,
    location: Option<String>,
    tags: Vec<String>,
}

impl AssetDraft {
    fn validate(&self) -> Result<ValidAsset, ValidationError> {
        Ok(ValidAsset {
            name: text::line("name", &self.name, text::MAX_NAME_CHARS)?,
            description: text::prose(
                "description",
                &self.description,
                text::MAX_DESCRIPTION_CHARS,
            )?,
            custodian: text::optional_line(
                "custodian",
                self.custodian.as_deref(),
                text::MAX_LABEL_CHARS,
            )?,
            confidentiality: Rating::parse("confidentiality", self.confidentiality)?,
            integrity: Rating::parse("integrity", self.integrity)?,
            availability: Rating::parse("availability", self.availability)?,
            business_value: BusinessValue::parse("business_value", self.business_value)?,
            location: text::optional_line(
                "location",
                self.location.as_deref(),
                text::MAX_LABEL_CHARS,
            )?,
            tags: text::tags("tags", &self.tags)?,
        })
    }
}

impl Asset {
    pub fn create(
        tenant_id: TenantId,
        draft: AssetDraft,
        now: Timestamp,
    ) -> Result<Self, ValidationError> {
        let v = draft.validate()?;
        Ok(Self {
            id: AssetId::new(),
            tenant_id,
            name: v.name,
            description: v.description,
            asset_type: draft.asset_type,
            owner: draft.owner,
            custodian: v.custodian,
            classification: draft.classification,
            confidentiality: v.confidentiality,
            integrity: v.integrity,
            availability: v.availability,
            business_value: v.business_value,
            location: v.location,
            tags: v.tags,
            status: draft.status,
            last_reviewed_at: None,
            next_review_at: draft.next_review_at.map(truncate),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
    }

    /// Replaces the editable fields. Validates everything before changing
    /// anything, so a rejected update leaves the asset as it was.
    pub fn apply(&mut self, draft: AssetDraft, now: Timestamp) -> Result<(), ValidationError> {
        if self.status == AssetStatus::Disposed {
            return Err(ValidationError::new(
                "status",
                Problem::Inconsistent("a disposed asset can no longer be changed"),
            ));
        }
        let v = draft.validate()?;
        self.name = v.name;
        self.description = v.description;
        self.asset_type = draft.asset_type;
        self.owner = draft.owner;
        self.custodian = v.custodian;
        self.classification = draft.classification;
        self.confidentiality = v.confidentiality;
        self.integrity = v.integrity;
        self.availability = v.availability;
        self.business_value = v.business_value;
        self.location = v.location;
        self.tags = v.tags;
        self.status = draft.status;
        self.next_review_at = draft.next_review_at.map(truncate);
        self.updated_at = now;
        Ok(())
    }

    /// Records a completed owner review and when the next one is due
    /// (typically `AssessmentResult::next_assessment_due`).
    pub fn record_review(&mut self, at: Timestamp, next: Timestamp) -> Result<(), ValidationError> {
        if next <= at {
            return Err(ValidationError::new(
                "next_review_at",
                Problem::Inconsistent("must be after the review"),
            ));
        }
        self.last_reviewed_at = Some(truncate(at));
        self.next_review_at = Some(truncate(next));
        self.updated_at = truncate(at);
        Ok(())
    }

    pub const fn rating(&self, property: CiaProperty) -> Rating {
        match property {
            CiaProperty::Confidentiality => self.confidentiality,
            CiaProperty::Integrity => self.integrity,
            CiaProperty::Availability => self.availability,
        }
    }

    pub const fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn draft() -> AssetDraft {
        AssetDraft {
            name: " CRM database ".into(),
            description: String::new(),
            asset_type: AssetType::Information,
            owner: None,
            custodian: Some("  ".into()),
            classification: Some(Classification::Confidential),
            confidentiality: 3,
            integrity: 3,
            availability: 2,
            business_value: 4,
            location: None,
            tags: vec!["CRM".into()],
            status: AssetStatus::Active,
            next_review_at: None,
        }
    }

    #[test]
    fn create_normalises_and_blank_optional_is_none() {
        let a = Asset::create(TenantId::new(), draft(), crate::time::now()).unwrap();
        assert_eq!(a.name, "CRM database");
        assert_eq!(a.custodian, None);
        assert_eq!(a.tags, vec!["crm"]);
        assert_eq!(a.rating(CiaProperty::Availability).get(), 2);
    }

    #[test]
    fn rejected_update_changes_nothing_and_disposed_is_frozen() {
        let now = crate::time::now();
        let mut a = Asset::create(TenantId::new(), draft(), now).unwrap();
        let before = a.clone();
        let mut bad = draft();
        bad.availability = 7;
        assert_eq!(a.apply(bad, now).unwrap_err().field, "availability");
        assert_eq!(a, before);

        let mut disposed = draft();
        disposed.status = AssetStatus::Disposed;
        a.apply(disposed, now).unwrap();
        assert_eq!(a.apply(draft(), now).unwrap_err().field, "status");
    }

    #[test]
    fn draft_defaults_from_json() {
        let d: AssetDraft = serde_json::from_str(
            r#"{"name":"x","asset_type":"site","confidentiality":1,"integrity":1,"availability":1,"business_value":1}"#,
        )
        .unwrap();
        assert_eq!(d.status, AssetStatus::Active);
        assert!(d.tags.is_empty());
    }
}
