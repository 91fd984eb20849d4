//! `audit_log_integrity`: the full verification of every tenant log and
//! its checkpoint signatures (Annex A 8.15: logs protected against
//! tampering).

use serde_json::json;

use super::{Findings, count};
use crate::audit::{FailureKind, VerifyReport};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::time::Timestamp;

/// Where a log's verification stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityFailure {
    /// The first bad sequence number, when one is to blame.
    pub seq: Option<u64>,
    pub kind: FailureKind,
}

/// The verifier's result for one log (`VerifyReport` reduced to what the
/// check reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerification {
    /// `tenant:<uuid>` or `server`.
    pub log_id: String,
    pub entries: u64,
    pub checkpoints_checked: u64,
    pub first_failure: Option<IntegrityFailure>,
}

impl From<&VerifyReport> for LogVerification {
    fn from(r: &VerifyReport) -> Self {
        Self {
            log_id: r.log_id.to_string(),
            entries: r.entries,
            checkpoints_checked: r.checkpoints_checked,
            first_failure: r.first_failure.as_ref().map(|f| IntegrityFailure {
                seq: f.seq,
                kind: f.kind,
            }),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditIntegrityInput {
    pub logs: Vec<LogVerification>,
}

/// - any log failing verification → FAILED, naming the first bad seq (of
///   the first failing log, in input order) and listing every failing log;
/// - otherwise a log with entries but no signed checkpoint checked, or no
///   log at all → WARNING (nothing signed vouches for those entries yet);
/// - else PASSED.
pub fn audit_log_integrity(
    input: &AuditIntegrityInput,
    config: &CheckConfig,
    now: Timestamp,
) -> CheckResult {
    let failing: Vec<(&LogVerification, &IntegrityFailure)> = input
        .logs
        .iter()
        .filter_map(|l| l.first_failure.as_ref().map(|f| (l, f)))
        .collect();
    let unsigned: Vec<&str> = input
        .logs
        .iter()
        .filter(|l| l.first_failure.is_none() && l.entries > 0 && l.checkpoints_checked == 0)
        .map(|l| l.log_id.as_str())
        .collect();
    let entries: u64 = input
        .logs
        .iter()
        .map(|l| l.entries)
        .fold(0, u64::saturating_add);
    let checkpoints: u64 = input
        .logs
        .iter()
        .map(|l| l.checkpoints_checked)
        .fold(0, u64::saturating_add);

    let mut f = Findings::new();
    f.add(
        usize::from(input.logs.is_empty()),
        CheckStatus::Warning,
        || "no audit log was verified".into(),
        "Check that the verifier covers every tenant log.",
    );
    if let Some((log, first)) = failing.first() {
        let at = first
            .seq
            .map_or_else(|| "no single entry".to_owned(), |s| format!("seq {s}"));
        f.add(
            failing.len(),
            CheckStatus::Failed,
            || {
                format!(
                    "{} failed verification; first: {} at {at} ({})",
                    count(failing.len(), "audit log", "audit logs"),
                    log.log_id,
                    first.kind.as_str()
                )
            },
            "Treat this as a security incident: preserve the database, compare it with the \
             last exported log and signed checkpoints, and find who changed the entries.",
        );
    }
    f.add(
        unsigned.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} with entries not yet covered by a signed checkpoint",
                count(unsigned.len(), "audit log", "audit logs")
            )
        },
        "Check that the checkpoint job runs.",
    );
    let mut failures: Vec<_> = failing
        .iter()
        .map(|(l, f)| json!({ "log_id": l.log_id, "seq": f.seq, "kind": f.kind.as_str() }))
        .collect();
    failures.truncate(super::MAX_LISTED_IDS);
    let mut unsigned_ids: Vec<&str> = unsigned.clone();
    unsigned_ids.truncate(super::MAX_LISTED_IDS);
    let details = json!({
        "logs_checked": input.logs.len(),
        "entries": entries,
        "checkpoints_checked": checkpoints,
        "first_bad_seq": failing.first().and_then(|(_, f)| f.seq),
        "failures": failures,
        "failing_logs": failing.len(),
        "logs_without_checkpoint": { "count": unsigned.len(), "ids": unsigned_ids },
    });
    let passed = format!(
        "{} ({entries} entries, {checkpoints} checkpoints) verified",
        count(input.logs.len(), "audit log", "audit logs")
    );
    f.finish(CheckId::AuditLogIntegrity, config, passed, details, now)
}
