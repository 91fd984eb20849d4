//! The items of `GET /api/v1/compliance/checks`: each check with the
//! tenant's settings and its last result.

use serde::{Deserialize, Serialize};

use super::check::{CheckId, CheckResult, CheckStatus, Frequency, Severity};
use super::config::CheckConfig;
use crate::time::Timestamp;

/// The last run of a check, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastResult {
    pub status: CheckStatus,
    pub message: String,
    pub details: serde_json::Value,
    pub recommendation: Option<String>,
    pub ran_at: Timestamp,
}

/// One check as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub id: CheckId,
    pub name: String,
    pub severity: Severity,
    pub frequency: Frequency,
    pub enabled: bool,
    pub controls: Vec<String>,
    /// `None` before the first run.
    pub last_result: Option<LastResult>,
    /// When the scheduler runs it next (`None` when disabled; the first run
    /// of an enabled check that never ran is due now).
    pub next_run_at: Option<Timestamp>,
}

/// Every check in `CheckId` order, with the tenant's `config` and the
/// latest of `results` for each (any history will do).
pub fn check_summaries(
    config: &CheckConfig,
    results: &[CheckResult],
    now: Timestamp,
) -> Vec<CheckSummary> {
    CheckId::ALL
        .iter()
        .map(|&id| {
            let s = config.settings(id);
            let last = results
                .iter()
                .filter(|r| r.check == id)
                .max_by_key(|r| r.ran_at);
            CheckSummary {
                id,
                name: id.definition().name.to_owned(),
                severity: s.severity,
                frequency: s.frequency,
                enabled: s.enabled,
                controls: id.controls(),
                next_run_at: s
                    .enabled
                    .then(|| last.map_or(now, |r| s.frequency.next_run_after(r.ran_at))),
                last_result: last.map(|r| LastResult {
                    status: r.status,
                    message: r.message.clone(),
                    details: r.details.clone(),
                    recommendation: r.recommendation.clone(),
                    ran_at: r.ran_at,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn lists_every_check_with_its_latest_result() {
        let now = crate::time::now();
        let mut cfg = CheckConfig::default();
        cfg.checks.get_mut(CheckId::RiskReview).enabled = false;
        let old = CheckResult::error(CheckId::AdminCount, &cfg, "x", now - Duration::days(2));
        let mut new = old.clone();
        new.status = CheckStatus::Passed;
        new.ran_at = now - Duration::hours(1);
        let list = check_summaries(&cfg, &[new, old], now);
        assert_eq!(list.len(), 9);
        let admin = &list[CheckId::AdminCount as usize];
        assert_eq!(
            admin.last_result.as_ref().map(|r| r.status),
            Some(CheckStatus::Passed)
        );
        assert_eq!(admin.next_run_at, Some(now + Duration::hours(23)));
        let first = &list[0];
        assert_eq!(
            (first.id, first.last_result.is_none()),
            (CheckId::PasswordPolicy, true)
        );
        assert_eq!(first.next_run_at, Some(now));
        assert_eq!(list[CheckId::RiskReview as usize].next_run_at, None);
        let v = serde_json::to_value(admin).unwrap_or_default();
        assert_eq!(v["severity"], "MEDIUM");
        assert_eq!(v["frequency"], "daily");
        assert_eq!(v["last_result"]["status"], "PASSED");
    }
}
