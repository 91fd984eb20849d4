//! Continuity and observability rules (ISO/IEC 27001 A.5.30, A.8.6, A.8.16):
//! the availability error budget, SLO signals, the quality score, and the
//! ports the outer layers implement to feed them.

pub mod error_budget;
pub mod quality;
pub mod slo;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

pub use error_budget::{
    BudgetCounts, BudgetWindow, CounterError, ErrorBudgetSnapshot, ErrorBudgetStore, SloTarget,
};
pub use quality::{Pillars, QualityInputs, QualityScore, Ratio};
pub use slo::{LatencyHistogram, Signal, SignalStatus, SloThresholds, WindowStats};

use crate::audit::AuditRecord;
use crate::time::Timestamp;

/// One key's age against its rotation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyAge {
    /// What the key is for, e.g. `access_token_signing`.
    pub key: String,
    pub key_id: String,
    pub created_at: Timestamp,
    /// Older than this, the key is due for rotation.
    #[serde(skip)]
    pub rotate_after: Duration,
}

impl KeyAge {
    pub fn age(&self, now: Timestamp) -> Duration {
        (now - self.created_at).to_std().unwrap_or(Duration::ZERO)
    }

    pub fn within_rotation(&self, now: Timestamp) -> bool {
        self.age(now) <= self.rotate_after
    }
}

/// The keys whose age the quality score and the detailed health report
/// watch. The crypto issue's data keys join by implementing this too.
pub trait KeyInventory: Send + Sync {
    fn key_ages(&self) -> Vec<KeyAge>;
}

/// Counts of log lines written, for the auditability pillar.
pub trait LogLineStats: Send + Sync {
    /// `(lines with a request id, all lines)` since start.
    fn lines(&self) -> (u64, u64);
}

/// How an audit write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entries are committed.
    Committed,
    /// The store failed: neither the change nor its entries were written.
    Failed,
    /// The change itself was refused (not found, conflict): nothing to
    /// write, no failure of the audit log.
    NotWritten,
}

/// Told about every audit write (metrics, quality signals). Called after
/// the write, on the writing task; must not block.
pub trait AuditObserver: Send + Sync {
    fn observed(&self, records: &[AuditRecord], outcome: AppendOutcome, elapsed: Duration);
}

/// Whether the shared counter backend (Redis) answers, for readiness.
#[async_trait]
pub trait RedisProbe: Send + Sync {
    /// Whether Redis is configured at all.
    fn configured(&self) -> bool;
    /// One round trip.
    async fn ping(&self) -> Result<(), CounterError>;
}
