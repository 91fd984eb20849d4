//! Risk management (ISO 27001 6.1.2, 6.1.3, 8.2, 8.3; Annex A 5.9, 5.12;
//! ISO/IEC 27005): the asset inventory, threats and vulnerabilities, the
//! exposures linking them, a configurable assessment engine, treatments
//! with their approval rule, and register exports.
//!
//! Everything here is pure. The formulas are documented in
//! `docs/risk-engine.md`; in short, a pair's score is impact × likelihood
//! on the tenant's matrix ([`RiskMatrixConfig`]), and an asset's inherent
//! risk is its worst pair.

mod approval;
mod asset;
mod catalogue;
mod cia;
mod classification;
mod compliance;
mod config;
mod control;
mod csv;
mod engine;
pub(crate) mod enums;
mod error;
mod exposure;
mod heatmap;
mod ids;
mod level;
mod likelihood;
mod ports;
mod rating;
mod score;
mod text;
mod threat;
mod treatment;
mod vulnerability;

pub use approval::{ApprovalDenied, ApprovalRequirement, Approver, approval_requirement};
pub use asset::{Asset, AssetDraft, AssetStatus, AssetType};
pub use catalogue::{
    CatalogueError, DEFAULT_CATALOGUE_JSON, ThreatGroup, ThreatTemplate, default_threat_catalogue,
    parse_threat_catalogue,
};
pub use cia::{CiaProperty, CiaSet};
pub use classification::{Classification, UnknownClassification};
pub use compliance::{Compliance, ComplianceStatus, Finding, FindingCode, check_asset};
pub use config::{
    LevelThresholds, LikelihoodAdjustments, MAX_AXIS_LEVELS, MAX_REVIEW_INTERVAL_DAYS,
    MIN_AXIS_LEVELS, PerClassification, PerSeverity, RiskMatrixConfig, RiskMatrixSpec,
};
pub use control::ControlId;
pub use csv::{REGISTER_HEADER, RegisterRow, csv_cell, register_csv};
pub use engine::{
    AssessmentResult, Assessor, Contribution, assess, assess_pairs, impact_of, likelihood_of,
    score_pair,
};
pub use enums::UnknownValue;
pub use error::{Problem, ValidationError};
pub use exposure::{Exposure, ForeignTenant, Risk};
pub use heatmap::{Heatmap, HeatmapGrid, heatmap};
pub use ids::{AssessmentId, AssetId, RiskId, ThreatId, TreatmentId, VulnerabilityId};
pub use level::{PerLevel, RiskLevel};
pub use likelihood::Likelihood;
pub use ports::{
    AssessmentInput, AssessmentWrite, AssetFilter, AssetSchedule, ExposurePair, RegisterEntry,
    RiskFilter, RiskRepository, Sort, SortField, ThreatFilter, VulnerabilityFilter,
};
pub use rating::{BusinessValue, Rating};
pub use score::PairScore;
pub use text::{
    MAX_COMMENT_CHARS, MAX_DESCRIPTION_CHARS, MAX_LABEL_CHARS, MAX_NAME_CHARS, MAX_TAG_CHARS,
    MAX_TAGS,
};
pub use threat::{Threat, ThreatCategory, ThreatDraft};
pub use treatment::{
    Approval, MAX_PLANNED_CONTROLS, ResidualEstimate, Treatment, TreatmentAction, TreatmentDraft,
    TreatmentError, TreatmentOption, TreatmentStatus,
};
pub use vulnerability::{
    Cve, Cwe, MAX_AFFECTED_ASSETS, Severity, Vulnerability, VulnerabilityDraft, VulnerabilityStatus,
};
