//! `access_reviews`: every active user's access rights were reviewed
//! within the review period (Annex A 5.18).

use serde_json::json;

use super::{Findings, UserSnapshot, count, listed, older_than};
use crate::compliance::check::{CheckId, CheckResult, CheckStatus};
use crate::compliance::config::CheckConfig;
use crate::time::Timestamp;

/// - `last_access_review_at` missing, or older than
///   `access_review_max_age_days` (90) → WARNING with the count and ids;
/// - older than `access_review_fail_days` (180), or missing on an account
///   created more than that long ago → FAILED: a review twice overdue is
///   no longer a lapse but a control not operating.
pub fn access_reviews(users: &[UserSnapshot], config: &CheckConfig, now: Timestamp) -> CheckResult {
    let t = &config.thresholds;
    let active: Vec<&UserSnapshot> = users.iter().filter(|u| u.active).collect();
    let mut overdue = Vec::new();
    let mut long_overdue = Vec::new();
    let mut never = 0usize;
    for u in &active {
        let since = u.last_access_review_at.unwrap_or(u.created_at);
        if older_than(since, now, t.access_review_fail_days) {
            long_overdue.push(u.id);
        } else if u.last_access_review_at.is_none()
            || older_than(since, now, t.access_review_max_age_days)
        {
            overdue.push(u.id);
        }
        never += usize::from(u.last_access_review_at.is_none());
    }
    let mut f = Findings::new();
    f.add(
        overdue.len(),
        CheckStatus::Warning,
        || {
            format!(
                "{} without an access review in the last {} days",
                count(overdue.len(), "user", "users"),
                t.access_review_max_age_days
            )
        },
        "Review the access rights of the listed users and record the review.",
    );
    f.add(
        long_overdue.len(),
        CheckStatus::Failed,
        || {
            format!(
                "{} without an access review for more than {} days",
                count(long_overdue.len(), "user", "users"),
                t.access_review_fail_days
            )
        },
        "Review the access rights of the listed users and record the review.",
    );
    let details = json!({
        "users_checked": active.len(),
        "never_reviewed": never,
        "review_overdue": listed(&overdue),
        "review_long_overdue": listed(&long_overdue),
        "max_age_days": t.access_review_max_age_days,
        "fail_after_days": t.access_review_fail_days,
    });
    let passed = format!(
        "{} reviewed in the last {} days",
        count(active.len(), "active user", "active users"),
        t.access_review_max_age_days
    );
    f.finish(CheckId::AccessReviews, config, passed, details, now)
}
