//! The pure core of the compliance monitor (ISO 27001 clause 9.1
//! monitoring; Annex A 5.36 compliance with policies): the Annex A
//! catalogue and the 2013 → 2022 mapping, the nine checks as pure rules
//! over snapshots, the overall status and score, the Statement of
//! Applicability, GDPR records, and signed compliance reports.
//!
//! Nothing here does IO. The application reads each check's snapshot from
//! its ports, calls the rule (or `rules::evaluate`), turns a failed read
//! into `CheckResult::error`, stores the results, and derives the status
//! with `compliance_status`. `docs/compliance.md` documents every rule,
//! threshold, the evidence map and the score formula.

mod catalogue;
mod check;
mod config;
mod evidence;
mod gdpr;
mod gdpr_ports;
mod ids;
mod listing;
mod phc;
mod ports;
mod report;
mod retention;
pub mod rules;
mod soa;
mod status;
mod text;
mod vocab;

pub use catalogue::{
    ANNEX_A_2013_MAPPING_JSON, ANNEX_A_2022_JSON, AnnexACatalogue, AnnexAControl, CatalogueError,
    Mapping2013, Theme, all_controls, catalogue, control, map_2013,
};
pub use check::{
    CheckDefinition, CheckId, CheckResult, CheckStatus, DEFINITIONS, Frequency, MAX_MESSAGE_CHARS,
    Severity,
};
pub use config::{CheckConfig, CheckSettings, ChecksConfig, Thresholds};
pub use evidence::{FEATURES, Feature, features_for};
pub use gdpr::{
    Consent, ConsentDraft, DataSubject, DataSubjectRequest, DsrKind, DsrStatus, GdprError,
    LawfulBasis, Rectification, RequestDraft,
};
pub use gdpr_ports::{
    EXPORT_DOWNLOADED, EXPORT_EXPIRED, GdprRepository, REQUEST_CHANGED, SubjectAsset,
    SubjectRecords, SubjectSession,
};
pub use ids::{ConsentId, DsrId, ReportId};
pub use listing::{CheckSummary, LastResult, check_summaries};
pub use phc::{ARGON2_VERSION_13, Argon2Params, Argon2Variant, HashScheme, PhcError, parse_argon2};
pub use ports::{
    AccessReview, ComplianceRepository, ConsentRepository, GdprSource, JobLease, JobLeases,
    ReviewOutcome, RiskReviewSource, ScoreSnapshot,
};
pub use report::{
    AuditSummary, ComplianceReport, DEFAULT_TOP_RISKS, FloatInCanonical, NEXT_REVIEW_DAYS,
    REPORT_CSV_HEADER, REPORT_PERIOD_DAYS, REPORT_SIGNATURE_CONTEXT, Recommendation,
    ReportCheckpoint, ReportError, RiskSummary, SignedReport, TopRisk, build_report,
    canonical_report_bytes, recommendations, report_csv, report_key_id, sign_report,
    signing_message, verify_report, write_canonical,
};
pub use retention::{
    MAX_RETENTION_DAYS, RetentionCategory, RetentionFinding, RetentionPolicy, RetentionRun,
};
pub use soa::{
    Evidence, EvidenceKind, ImplementationStatus, SoaDecision, SoaEntry, SoaPatch, TreatmentLink,
    build_soa, built_in_evidence, default_soa,
};
pub use status::{
    ComplianceStatus, Issue, OverallStatus, Score, Standing, compliance_status, latest_results,
    overall_status, score, score_of, score_of_counts, standing,
};
pub use text::{MAX_LABEL_CHARS, MAX_PROSE_CHARS, MAX_REFERENCE_CHARS};
