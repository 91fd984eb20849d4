//! `encryption_compliance`: every sensitive field is encrypted, under a
//! key version that is neither retired nor past its rotation period
//! (Annex A 8.24).

use serde::Serialize;
use serde_json::json;

use super::{Findings, count};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::time::Timestamp;

/// How the values of one sensitive column are protected. The application
/// classifies each stored value once:
/// - `plaintext`: no envelope;
/// - `retired_key`: an envelope under a retired key version;
/// - `over_age`: under a version older than `key_max_age_days` (not
///   retired);
/// - `superseded`: under a version that is no longer primary but within
///   its period (re-encryption pending);
/// - `ok`: under the primary version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnCounts {
    pub table: String,
    pub column: String,
    pub plaintext: u64,
    pub retired_key: u64,
    pub over_age: u64,
    pub superseded: u64,
    pub ok: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionInput {
    pub columns: Vec<ColumnCounts>,
}

/// - any plaintext, retired-key or over-age value → FAILED, with the
///   counts per table/column;
/// - otherwise values under superseded versions → WARNING;
/// - no sensitive column reported at all → WARNING (the scan found
///   nothing to vouch for, which is a wiring fault, not compliance).
pub fn encryption_compliance(
    input: &EncryptionInput,
    config: &CheckConfig,
    now: Timestamp,
) -> CheckResult {
    let sum = |f: fn(&ColumnCounts) -> u64| -> u64 {
        input.columns.iter().map(f).fold(0u64, u64::saturating_add)
    };
    let plaintext = sum(|c| c.plaintext);
    let retired = sum(|c| c.retired_key);
    let over_age = sum(|c| c.over_age);
    let superseded = sum(|c| c.superseded);
    let ok = sum(|c| c.ok);
    let bad: Vec<&ColumnCounts> = input
        .columns
        .iter()
        .filter(|c| c.plaintext > 0 || c.retired_key > 0 || c.over_age > 0 || c.superseded > 0)
        .collect();
    let failing = plaintext.saturating_add(retired).saturating_add(over_age);
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);

    let mut f = Findings::new();
    f.add(
        usize::from(input.columns.is_empty()),
        CheckStatus::Warning,
        || "no sensitive column was scanned".into(),
        "Check that the encryption scan covers the sensitive columns.",
    );
    f.add(
        n(failing),
        CheckStatus::Failed,
        || {
            format!(
                "{} not properly encrypted ({plaintext} plaintext, {retired} under a retired \
                 key, {over_age} under an over-age key)",
                count(n(failing), "sensitive value", "sensitive values")
            )
        },
        "Encrypt plaintext values and re-encrypt values under retired or over-age keys with \
         the primary key.",
    );
    f.add(
        n(superseded),
        CheckStatus::Warning,
        || {
            format!(
                "{} still under a superseded key version",
                count(n(superseded), "sensitive value", "sensitive values")
            )
        },
        "Let the re-encryption job finish moving values to the primary key.",
    );
    let mut rows: Vec<_> = bad
        .iter()
        .map(|c| {
            json!({
                "table": c.table,
                "column": c.column,
                "plaintext": c.plaintext,
                "retired_key": c.retired_key,
                "over_age": c.over_age,
                "superseded": c.superseded,
            })
        })
        .collect();
    rows.truncate(super::MAX_LISTED_IDS);
    let details = json!({
        "columns_checked": input.columns.len(),
        "totals": {
            "plaintext": plaintext,
            "retired_key": retired,
            "over_age": over_age,
            "superseded": superseded,
            "ok": ok,
        },
        "columns": rows,
        "columns_with_findings": bad.len(),
    });
    let passed = format!(
        "{} in {} encrypted under current keys",
        count(n(ok), "sensitive value", "sensitive values"),
        count(input.columns.len(), "column", "columns")
    );
    f.finish(CheckId::EncryptionCompliance, config, passed, details, now)
}
