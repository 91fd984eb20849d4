//! Error-budget arithmetic for the availability SLO.
//!
//! Requests are counted in one-minute buckets over a rolling window
//! (default 30 days). A 5xx answer spends budget; a 4xx is the client's
//! fault and is counted separately (it feeds the abuse signal, not the
//! budget). With target `t` over `n` requests the budget is `(1 - t) · n`
//! failures; `failed / budget` of it is consumed.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Width of one counting bucket.
pub const BUCKET_SECS: i64 = 60;

/// The availability objective, strictly between 0 and 1 (0.999 = "three
/// nines").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloTarget(f64);

impl SloTarget {
    pub fn new(value: f64) -> Result<Self, String> {
        if value.is_finite() && value > 0.0 && value < 1.0 {
            Ok(Self(value))
        } else {
            Err("expected a ratio strictly between 0 and 1, e.g. 0.999".to_owned())
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

impl Default for SloTarget {
    fn default() -> Self {
        Self(0.999)
    }
}

/// Requests answered, of which 5xx (`failed`) and 4xx (`client_errors`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetCounts {
    pub total: u64,
    pub failed: u64,
    pub client_errors: u64,
}

impl BudgetCounts {
    /// One request answered with `status`.
    pub fn of_status(status: u16) -> Self {
        Self {
            total: 1,
            failed: u64::from((500..600).contains(&status)),
            client_errors: u64::from((400..500).contains(&status)),
        }
    }

    pub fn add(&mut self, other: BudgetCounts) {
        self.total = self.total.saturating_add(other.total);
        self.failed = self.failed.saturating_add(other.failed);
        self.client_errors = self.client_errors.saturating_add(other.client_errors);
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0 && self.failed == 0 && self.client_errors == 0
    }

    /// Share of requests answered 5xx (0 without requests).
    pub fn error_rate(&self) -> f64 {
        ratio(self.failed, self.total)
    }

    /// Share of requests answered 4xx (0 without requests).
    pub fn client_error_rate(&self) -> f64 {
        ratio(self.client_errors, self.total)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The bucket a Unix time (seconds) falls in.
pub fn bucket_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(BUCKET_SECS)
}

/// The rolling window: the current bucket and the ones before it, `days`
/// long in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetWindow {
    pub days: u32,
}

impl BudgetWindow {
    pub fn buckets(self) -> i64 {
        i64::from(self.days) * 86_400 / BUCKET_SECS
    }

    /// The oldest bucket still inside the window when `now` is current.
    pub fn oldest_live(self, now_bucket: i64) -> i64 {
        now_bucket - self.buckets() + 1
    }
}

impl Default for BudgetWindow {
    fn default() -> Self {
        Self { days: 30 }
    }
}

/// The budget as operators read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBudgetSnapshot {
    pub sla_target: f64,
    pub window_days: u32,
    pub total: u64,
    pub failed: u64,
    pub client_errors: u64,
    /// `1 - failed / total` (1 without requests).
    pub observed_availability: f64,
    /// Share of the budget spent, in percent; above 100 once overspent.
    pub budget_consumed_pct: f64,
    /// What is left of the budget, 0..1.
    pub remaining_ratio: f64,
    pub exhausted: bool,
    /// Where the counters live: `redis` or `in-process`.
    pub backend: String,
}

/// The snapshot of `counts` against `target`.
///
/// Without requests nothing is consumed. When the budget rounds to zero
/// failures (few requests, a strict target) any failure exhausts it.
pub fn snapshot(
    target: SloTarget,
    window: BudgetWindow,
    counts: BudgetCounts,
    backend: &str,
) -> ErrorBudgetSnapshot {
    let failed = counts.failed.min(counts.total);
    let allowed = (1.0 - target.value()) * counts.total as f64;
    let consumed = if failed == 0 {
        0.0
    } else if allowed <= 0.0 {
        f64::INFINITY
    } else {
        failed as f64 / allowed
    };
    let observed_availability = if counts.total == 0 {
        1.0
    } else {
        1.0 - failed as f64 / counts.total as f64
    };
    ErrorBudgetSnapshot {
        sla_target: target.value(),
        window_days: window.days,
        total: counts.total,
        failed: counts.failed,
        client_errors: counts.client_errors,
        observed_availability,
        // JSON has no infinity: a budget of zero failures overspent by
        // any failure reads as a large finite number.
        budget_consumed_pct: (consumed * 100.0).min(1e9),
        remaining_ratio: (1.0 - consumed).clamp(0.0, 1.0),
        // `1 - 0.999` is not exactly 0.001 in binary floating point: a
        // budget spent to the last failure must still read as exhausted.
        exhausted: consumed >= 1.0 - 1e-9,
        backend: backend.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    #[error("counter backend unavailable: {0}")]
    Unavailable(String),
}

/// Where the budget's bucketed counters live: Redis (shared by every
/// instance, updated atomically) or in process. Implementations keep
/// running totals of the live buckets so a read is O(1), and drop buckets
/// older than `oldest_live` when asked.
#[async_trait]
pub trait ErrorBudgetStore: Send + Sync {
    /// Adds `delta` to `bucket`, dropping buckets before `oldest_live`.
    async fn add(
        &self,
        bucket: i64,
        delta: BudgetCounts,
        oldest_live: i64,
    ) -> Result<(), CounterError>;
    /// The sum over the buckets from `oldest_live` on.
    async fn counts_since(&self, oldest_live: i64) -> Result<BudgetCounts, CounterError>;
    /// The backend answering now: `redis` or `in-process`.
    fn backend(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn counts(total: u64, failed: u64, client_errors: u64) -> BudgetCounts {
        BudgetCounts {
            total,
            failed,
            client_errors,
        }
    }

    fn snap(target: f64, c: BudgetCounts) -> ErrorBudgetSnapshot {
        snapshot(
            SloTarget::new(target).unwrap(),
            BudgetWindow::default(),
            c,
            "in-process",
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(BudgetCounts::of_status(200), counts(1, 0, 0));
        assert_eq!(BudgetCounts::of_status(302), counts(1, 0, 0));
        assert_eq!(BudgetCounts::of_status(404), counts(1, 0, 1));
        assert_eq!(BudgetCounts::of_status(429), counts(1, 0, 1));
        assert_eq!(BudgetCounts::of_status(500), counts(1, 1, 0));
        assert_eq!(BudgetCounts::of_status(503), counts(1, 1, 0));
    }

    #[test]
    fn targets_are_strict_ratios() {
        assert!(SloTarget::new(0.999).is_ok());
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert!(SloTarget::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_traffic_spends_nothing() {
        let s = snap(0.999, BudgetCounts::default());
        assert!(close(s.observed_availability, 1.0));
        assert!(close(s.budget_consumed_pct, 0.0));
        assert!(close(s.remaining_ratio, 1.0));
        assert!(!s.exhausted);
    }

    #[test]
    fn budget_is_spent_by_5xx_only() {
        // 99.9 % of 10,000 requests: a budget of 10 failures.
        let s = snap(0.999, counts(10_000, 4, 3_000));
        assert!(close(s.budget_consumed_pct, 40.0), "{s:?}");
        assert!(close(s.remaining_ratio, 0.6));
        assert!(close(s.observed_availability, 0.9996));
        assert_eq!(s.client_errors, 3_000);
        assert!(!s.exhausted);
    }

    #[test]
    fn exhausted_at_exactly_the_budget_and_beyond() {
        let at = snap(0.999, counts(10_000, 10, 0));
        assert!(close(at.budget_consumed_pct, 100.0));
        assert!(close(at.remaining_ratio, 0.0));
        assert!(at.exhausted);
        let over = snap(0.999, counts(10_000, 25, 0));
        assert!(close(over.budget_consumed_pct, 250.0));
        assert!(close(over.remaining_ratio, 0.0));
        assert!(over.exhausted);
        let below = snap(0.999, counts(10_000, 9, 0));
        assert!(!below.exhausted);
    }

    #[test]
    fn a_looser_target_has_a_larger_budget() {
        let s = snap(0.99, counts(1_000, 5, 0));
        assert!(close(s.budget_consumed_pct, 50.0), "{s:?}");
    }

    #[test]
    fn consumption_is_finite_even_with_a_zero_budget() {
        // One request, one failure: 0.001 failures allowed.
        let s = snap(0.999, counts(1, 1, 0));
        assert!(s.exhausted);
        assert!(s.budget_consumed_pct.is_finite());
        assert!(close(s.observed_availability, 0.0));
    }

    #[test]
    fn buckets_and_window() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(59), 0);
        assert_eq!(bucket_of(60), 1);
        assert_eq!(bucket_of(-1), -1);
        let w = BudgetWindow { days: 30 };
        assert_eq!(w.buckets(), 43_200);
        assert_eq!(w.oldest_live(43_199), 0);
        assert_eq!(BudgetWindow { days: 1 }.oldest_live(1_440), 1);
    }

    #[test]
    fn counts_add_saturating() {
        let mut c = counts(u64::MAX - 1, 0, 0);
        c.add(counts(5, 1, 1));
        assert_eq!(c.total, u64::MAX);
        assert_eq!(c.failed, 1);
        assert!(close(counts(4, 1, 2).error_rate(), 0.25));
        assert!(close(counts(4, 1, 2).client_error_rate(), 0.5));
        assert!(close(BudgetCounts::default().error_rate(), 0.0));
    }
}
