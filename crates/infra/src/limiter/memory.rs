//! In-process limiter: a bounded concurrent cache of `(value, deadline)`
//! slots, the same shape as a Redis string with a TTL, so both backends
//! behave alike. Per-key atomic updates, no global lock: this runs on every
//! request.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use isms_domain::ports::{LimiterError, LimiterStore};
use isms_domain::ratelimit::{Decision, Quota, gcra};
use moka::Expiry;
use moka::ops::compute::Op;
use moka::sync::Cache;

use super::{from_us, ttl_ms};

/// Enough for every client of a busy instance; beyond it the least useful
/// keys are evicted rather than memory growing without bound.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Slot {
    value: i64,
    /// Monotonic µs after which the slot no longer counts. Checked on every
    /// read because the cache evicts lazily.
    deadline: i64,
    /// Time left when written, for the cache's own eviction.
    ttl: Duration,
}

impl Slot {
    fn new(value: i64, now: i64, deadline: i64) -> Self {
        Self {
            value,
            deadline,
            ttl: from_us(deadline - now),
        }
    }

    fn live(self, now: i64) -> Option<Self> {
        (self.deadline > now).then_some(self)
    }
}

struct SlotExpiry;

impl Expiry<String, Slot> for SlotExpiry {
    fn expire_after_create(&self, _: &String, slot: &Slot, _: Instant) -> Option<Duration> {
        Some(slot.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &Slot,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(slot.ttl)
    }
}

/// The in-process `LimiterStore`: budgets are per instance.
#[derive(Clone)]
pub struct MemoryLimiter {
    slots: Cache<String, Slot>,
    origin: Instant,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryLimiter {
    // Keys may hold e-mail addresses: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLimiter")
            .field("entries", &self.slots.entry_count())
            .finish()
    }
}

impl MemoryLimiter {
    pub fn new() -> Self {
        Self::with_max_entries(DEFAULT_MAX_ENTRIES)
    }

    pub fn with_max_entries(max_entries: u64) -> Self {
        Self {
            slots: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(SlotExpiry)
                .build(),
            origin: Instant::now(),
        }
    }

    /// Monotonic µs: wall-clock jumps must not refill or drain budgets.
    fn now(&self) -> i64 {
        i64::try_from(self.origin.elapsed().as_micros()).unwrap_or(i64::MAX)
    }

    fn deadline(now: i64, ttl: Duration) -> i64 {
        let ms = i64::try_from(ttl_ms(ttl)).unwrap_or(i64::MAX);
        now.saturating_add(ms.saturating_mul(1000))
    }

    pub(crate) fn check(&self, key: &str, quota: Quota) -> Decision {
        let now = self.now();
        let mut decision = None;
        self.slots.entry_by_ref(key).and_compute_with(|entry| {
            let tat = entry
                .and_then(|e| e.into_value().live(now))
                .map(|s| s.value);
            let (d, next) = gcra(tat, now, quota);
            decision = Some(d);
            match next {
                // A TAT behind `now` means a full bucket: keep it until then.
                Some(tat) => Op::Put(Slot::new(tat, now, tat)),
                None => Op::Nop,
            }
        });
        // The closure always runs; the fallback only satisfies the types.
        decision.unwrap_or_else(|| gcra(None, now, quota).0)
    }

    pub(crate) fn failure(&self, key: &str, window: Duration) -> u32 {
        let now = self.now();
        let mut count = 1;
        self.slots.entry_by_ref(key).and_compute_with(|entry| {
            let slot = match entry.and_then(|e| e.into_value().live(now)) {
                // The window runs from the first failure: keep its deadline.
                Some(s) => Slot::new(s.value.saturating_add(1), now, s.deadline),
                None => Slot::new(1, now, Self::deadline(now, window)),
            };
            count = slot.value;
            Op::Put(slot)
        });
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    pub(crate) fn set_lock(&self, key: &str, ttl: Duration) {
        let now = self.now();
        let slot = Slot::new(1, now, Self::deadline(now, ttl));
        self.slots.insert(key.to_owned(), slot);
    }

    pub(crate) fn remaining(&self, key: &str) -> Option<Duration> {
        let now = self.now();
        let slot = self.slots.get(key)?.live(now)?;
        Some(from_us(slot.deadline - now))
    }

    pub(crate) fn remove(&self, key: &str) {
        self.slots.invalidate(key);
    }
}

#[async_trait]
impl LimiterStore for MemoryLimiter {
    async fn check_rate(&self, key: &str, quota: Quota) -> Result<Decision, LimiterError> {
        Ok(self.check(key, quota))
    }

    async fn add_failure(&self, key: &str, window: Duration) -> Result<u32, LimiterError> {
        Ok(self.failure(key, window))
    }

    async fn lock(&self, key: &str, ttl: Duration) -> Result<(), LimiterError> {
        self.set_lock(key, ttl);
        Ok(())
    }

    async fn locked_for(&self, key: &str) -> Result<Option<Duration>, LimiterError> {
        Ok(self.remaining(key))
    }

    async fn clear(&self, key: &str) -> Result<(), LimiterError> {
        self.remove(key);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn allows_exactly_the_limit_then_denies_with_retry_after() {
        let limiter = MemoryLimiter::new();
        let quota = Quota::per_minute(5);
        for expected in (0..5).rev() {
            let d = limiter.check_rate("ip:1", quota).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, expected);
            assert_eq!(d.limit, 5);
        }
        let denied = limiter.check_rate("ip:1", quota).await.unwrap();
        assert!(!denied.allowed);
        assert_eq!(denied.remaining, 0);
        assert!(denied.retry_after > Duration::from_secs(11));
        assert!(denied.retry_after <= Duration::from_secs(12));
        assert!(denied.reset_after <= Duration::from_secs(60));
        // Another key has its own budget.
        assert!(limiter.check_rate("ip:2", quota).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn budget_refills_after_the_emission_interval() {
        let limiter = MemoryLimiter::new();
        let quota = Quota {
            limit: 2,
            period: 100 * MS,
        };
        assert!(limiter.check_rate("k", quota).await.unwrap().allowed);
        assert!(limiter.check_rate("k", quota).await.unwrap().allowed);
        assert!(!limiter.check_rate("k", quota).await.unwrap().allowed);
        tokio::time::sleep(60 * MS).await;
        assert!(limiter.check_rate("k", quota).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn failures_count_up_and_expire_with_the_window() {
        let limiter = MemoryLimiter::new();
        for n in 1..=3 {
            assert_eq!(limiter.add_failure("login:a", 50 * MS).await.unwrap(), n);
        }
        tokio::time::sleep(80 * MS).await;
        assert_eq!(limiter.add_failure("login:a", 50 * MS).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn failure_window_is_fixed_from_the_first_failure() {
        let limiter = MemoryLimiter::new();
        let window = 200 * MS;
        assert_eq!(limiter.add_failure("f", window).await.unwrap(), 1);
        tokio::time::sleep(120 * MS).await;
        assert_eq!(limiter.add_failure("f", window).await.unwrap(), 2);
        // 220 ms after the first failure; a sliding window would still hold.
        tokio::time::sleep(100 * MS).await;
        assert_eq!(limiter.add_failure("f", window).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn lock_holds_for_its_ttl_and_clear_lifts_it() {
        let limiter = MemoryLimiter::new();
        assert_eq!(limiter.locked_for("lock:a").await.unwrap(), None);
        limiter
            .lock("lock:a", Duration::from_secs(30))
            .await
            .unwrap();
        let left = limiter.locked_for("lock:a").await.unwrap().unwrap();
        assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30));
        limiter.clear("lock:a").await.unwrap();
        assert_eq!(limiter.locked_for("lock:a").await.unwrap(), None);

        limiter.lock("lock:b", 40 * MS).await.unwrap();
        assert!(limiter.locked_for("lock:b").await.unwrap().is_some());
        tokio::time::sleep(60 * MS).await;
        assert_eq!(limiter.locked_for("lock:b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn clear_resets_counters_and_rate_state_of_that_key_only() {
        let limiter = MemoryLimiter::new();
        let quota = Quota::per_minute(1);
        assert!(limiter.check_rate("r:1", quota).await.unwrap().allowed);
        assert!(limiter.check_rate("r:2", quota).await.unwrap().allowed);
        limiter
            .add_failure("f:1", Duration::from_secs(60))
            .await
            .unwrap();
        limiter.clear("r:1").await.unwrap();
        limiter.clear("f:1").await.unwrap();
        assert!(limiter.check_rate("r:1", quota).await.unwrap().allowed);
        assert!(!limiter.check_rate("r:2", quota).await.unwrap().allowed);
        let n = limiter.add_failure("f:1", Duration::from_secs(60)).await;
        assert_eq!(n.unwrap(), 1);
    }

    #[tokio::test]
    async fn reports_the_in_process_backend() {
        assert_eq!(MemoryLimiter::new().backend(), "in-process");
    }
}
