//! Retention of personal data (GDPR Art. 5(1)(e), Annex A 5.33/5.34): per
//! tenant, how many days records of each category are kept after their
//! retention clock starts. The categories are the kinds of personal data
//! this server itself holds, so the retention job knows how to find and
//! erase each one.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::rules::RetentionBacklog;
use super::vocab::vocabulary;
use crate::risk::{Problem, ValidationError};
use crate::time::Timestamp;

vocabulary!(
    /// What personal data a policy covers, and when its clock starts.
    RetentionCategory, field = "category" {
        /// Ended sessions (client IP and user agent), from their end
        /// (revocation or expiry).
        Sessions => "sessions",
        /// Withdrawn consent records, from the withdrawal.
        WithdrawnConsents => "withdrawn_consents",
        /// Deleted accounts whose personal data was not erased yet, from
        /// the deletion.
        DeletedAccounts => "deleted_accounts",
        /// Completed or rejected data-subject requests (with their
        /// exports), from the closing.
        ClosedRequests => "closed_requests",
    }
);

impl RetentionCategory {
    /// What erasing a record of the category does, for the job's report.
    pub const fn erasure(self) -> &'static str {
        match self {
            RetentionCategory::Sessions => "session and its refresh tokens deleted",
            RetentionCategory::WithdrawnConsents => "consent record deleted",
            RetentionCategory::DeletedAccounts => {
                "e-mail and name overwritten, subject key destroyed"
            }
            RetentionCategory::ClosedRequests => "request and its export deleted",
        }
    }
}

/// Longest retention a policy may set (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// How long records of one category are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    pub category: RetentionCategory,
    pub days: u32,
    /// Whether the daily job erases what is past retention (otherwise it
    /// only reports it).
    #[serde(default)]
    pub enforce: bool,
}

impl RetentionPolicy {
    pub fn new(
        category: RetentionCategory,
        days: u32,
        enforce: bool,
    ) -> Result<Self, ValidationError> {
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(ValidationError::new(
                "days",
                Problem::OutOfRange {
                    min: 1,
                    max: i64::from(MAX_RETENTION_DAYS),
                },
            ));
        }
        Ok(Self {
            category,
            days,
            enforce,
        })
    }

    fn period(&self) -> Duration {
        Duration::days(i64::from(self.days))
    }

    /// When a record whose clock started at `started_at` reaches the end
    /// of retention.
    pub fn expires_at(&self, started_at: Timestamp) -> Timestamp {
        started_at + self.period()
    }

    /// Past retention: strictly after `expires_at`.
    pub fn is_expired(&self, started_at: Timestamp, now: Timestamp) -> bool {
        now > self.expires_at(started_at)
    }

    /// Records whose clock started strictly before this are past
    /// retention at `now`.
    pub fn cutoff(&self, now: Timestamp) -> Timestamp {
        now - self.period()
    }

    /// The backlog for `gdpr_compliance` from what the store counted past
    /// `cutoff(now)`: `records` of them, the oldest started at `oldest`.
    pub fn backlog(&self, records: u64, oldest: Option<Timestamp>) -> Option<RetentionBacklog> {
        let oldest = oldest?;
        (records > 0).then(|| RetentionBacklog {
            category: self.category.as_str().to_owned(),
            records,
            oldest_expired_at: self.expires_at(oldest),
        })
    }
}

/// What one retention run found (and, when enforcing, erased) in one
/// category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionFinding {
    pub category: RetentionCategory,
    pub days: u32,
    /// Records past retention when the run started.
    pub expired: u64,
    /// When the oldest of them reached the end of retention.
    pub oldest_expired_at: Option<Timestamp>,
    /// Records erased by this run (0 unless enforcing).
    pub erased: u64,
    pub erasure: &'static str,
}

/// The result of a retention run over one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    pub enforce: bool,
    pub ran_at: Timestamp,
    pub findings: Vec<RetentionFinding>,
    /// Categories without a policy: kept indefinitely.
    pub categories_without_policy: Vec<RetentionCategory>,
}

impl RetentionRun {
    pub fn new(enforce: bool, ran_at: Timestamp, policies: &[RetentionPolicy]) -> Self {
        Self {
            enforce,
            ran_at,
            findings: Vec::new(),
            categories_without_policy: RetentionCategory::ALL
                .iter()
                .copied()
                .filter(|c| !policies.iter().any(|p| p.category == *c))
                .collect(),
        }
    }

    pub fn expired(&self) -> u64 {
        self.findings.iter().map(|f| f.expired).sum()
    }

    pub fn erased(&self) -> u64 {
        self.findings.iter().map(|f| f.erased).sum()
    }
}
