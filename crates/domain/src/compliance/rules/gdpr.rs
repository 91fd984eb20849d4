//! `gdpr_compliance`: processing has a consent record, records are not
//! kept past their retention period, and data-subject requests are
//! answered within the deadline (Annex A 5.34; GDPR Art. 5(1)(e), 6, 12).

use chrono::Duration;
use serde_json::json;

use super::{Findings, count, listed, older_than};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::compliance::gdpr::{DataSubject, DataSubjectRequest, DsrKind};
use crate::compliance::ids::DsrId;
use crate::time::Timestamp;

/// Records of one category past their retention period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionBacklog {
    pub category: String,
    pub records: u64,
    /// When the oldest of them reached the end of its retention.
    pub oldest_expired_at: Timestamp,
}

/// An open (received or in progress) data-subject request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: DsrId,
    pub kind: DsrKind,
    pub created_at: Timestamp,
}

impl From<&DataSubjectRequest> for PendingRequest {
    fn from(r: &DataSubjectRequest) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GdprInput {
    /// Subjects whose personal data is processed on the basis of consent
    /// with no active consent record.
    pub subjects_without_consent: Vec<DataSubject>,
    pub past_retention: Vec<RetentionBacklog>,
    /// Open requests only; closed ones are ignored if passed.
    pub pending_requests: Vec<PendingRequest>,
}

/// - processing without a consent record → FAILED;
/// - a request open more than `dsr_deadline_days` (30) → FAILED; open
///   with less than `dsr_warning_days` (7) left → WARNING;
/// - records past retention → WARNING, FAILED once the oldest has been
///   past it for more than `retention_grace_days` (7).
///
/// Details list user ids and request ids; external subjects are only
/// counted (their ids are the tenant's, and may be meaningful outside).
pub fn gdpr_compliance(input: &GdprInput, config: &CheckConfig, now: Timestamp) -> CheckResult {
    let t = &config.thresholds;
    let user_ids: Vec<_> = input
        .subjects_without_consent
        .iter()
        .filter_map(|s| match s {
            DataSubject::User(u) => Some(*u),
            DataSubject::External(_) => None,
        })
        .collect();
    let external = input.subjects_without_consent.len() - user_ids.len();
    let no_consent = input.subjects_without_consent.len();

    let deadline = Duration::days(i64::from(t.dsr_deadline_days));
    let warn_from = deadline - Duration::days(i64::from(t.dsr_warning_days));
    let overdue: Vec<&PendingRequest> = input
        .pending_requests
        .iter()
        .filter(|r| older_than(r.created_at, now, t.dsr_deadline_days))
        .collect();
    let due_soon: Vec<&PendingRequest> = input
        .pending_requests
        .iter()
        .filter(|r| {
            let age = now - r.created_at;
            age >= warn_from && age <= deadline
        })
        .collect();
    let backlog: u64 = input
        .past_retention
        .iter()
        .map(|b| b.records)
        .fold(0, u64::saturating_add);
    let stale_categories: Vec<&str> = input
        .past_retention
        .iter()
        .filter(|b| b.records > 0 && older_than(b.oldest_expired_at, now, t.retention_grace_days))
        .map(|b| b.category.as_str())
        .collect();
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);

    let mut f = Findings::new();
    f.add(
        no_consent,
        CheckStatus::Failed,
        || {
            format!(
                "{} processed without a consent record",
                count(no_consent, "data subject", "data subjects")
            )
        },
        "Record consent for the listed subjects or stop processing their data for that purpose.",
    );
    f.add(
        overdue.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} open for more than {} days",
                count(
                    overdue.len(),
                    "data-subject request",
                    "data-subject requests"
                ),
                t.dsr_deadline_days
            )
        },
        "Answer overdue data-subject requests now and tell the subjects why they are late.",
    );
    f.add(
        due_soon.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} due within {} days",
                count(
                    due_soon.len(),
                    "data-subject request",
                    "data-subject requests"
                ),
                t.dsr_warning_days
            )
        },
        "Prioritise data-subject requests close to their deadline.",
    );
    let stale = !stale_categories.is_empty();
    f.add(
        n(backlog),
        if stale {
            CheckStatus::Failed
        } else {
            CheckStatus::Warning
        },
        || {
            format!(
                "{} past their retention period",
                count(n(backlog), "record", "records")
            )
        },
        "Run the retention job with enforce=true, or correct the retention policies.",
    );
    let by_kind = |k: DsrKind| overdue.iter().filter(|r| r.kind == k).count();
    let mut categories: Vec<_> = input
        .past_retention
        .iter()
        .filter(|b| b.records > 0)
        .map(|b| json!({ "category": b.category, "records": b.records }))
        .collect();
    categories.truncate(super::MAX_LISTED_IDS);
    let details = json!({
        "without_consent": {
            "count": no_consent,
            "users": listed(&user_ids),
            "external_subjects": external,
        },
        "requests_pending": input.pending_requests.len(),
        "requests_overdue": listed(overdue.iter().map(|r| r.id)),
        "requests_overdue_by_kind": {
            "access": by_kind(DsrKind::Access),
            "export": by_kind(DsrKind::Export),
            "erasure": by_kind(DsrKind::Erasure),
            "rectification": by_kind(DsrKind::Rectification),
        },
        "requests_due_soon": listed(due_soon.iter().map(|r| r.id)),
        "past_retention": {
            "records": backlog,
            "categories": categories,
            "beyond_grace": stale_categories.len(),
        },
        "deadline_days": t.dsr_deadline_days,
    });
    let passed = format!(
        "consent recorded for all processing, no record past retention, {} on time",
        count(
            input.pending_requests.len(),
            "open request",
            "open requests"
        )
    );
    f.finish(CheckId::GdprCompliance, config, passed, details, now)
}
