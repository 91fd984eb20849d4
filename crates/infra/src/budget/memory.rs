//! In-process budget counters: live buckets in an ordered map with running
//! totals, the same model as the Redis script. Written about once a second
//! (requests accumulate in atomics first), so one mutex is enough.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use isms_domain::continuity::{BudgetCounts, CounterError, ErrorBudgetStore};

use super::minus;

#[derive(Default)]
struct State {
    buckets: BTreeMap<i64, BudgetCounts>,
    totals: BudgetCounts,
}

impl State {
    fn evict(&mut self, oldest_live: i64) {
        let live = self.buckets.split_off(&oldest_live);
        for (_, old) in std::mem::replace(&mut self.buckets, live) {
            self.totals = minus(self.totals, old);
        }
    }
}

#[derive(Default)]
pub struct MemoryBudget {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryBudget")
    }
}

impl MemoryBudget {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic while holding the lock leaves consistent data behind
        // (each step is a whole update), so a poisoned lock is still used.
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub fn add_now(&self, bucket: i64, delta: BudgetCounts, oldest_live: i64) {
        self.with(|s| {
            s.evict(oldest_live);
            if bucket >= oldest_live && !delta.is_empty() {
                s.buckets.entry(bucket).or_default().add(delta);
                s.totals.add(delta);
            }
        });
    }

    pub fn counts_now(&self, oldest_live: i64) -> BudgetCounts {
        self.with(|s| {
            s.evict(oldest_live);
            s.totals
        })
    }
}

#[async_trait]
impl ErrorBudgetStore for MemoryBudget {
    async fn add(
        &self,
        bucket: i64,
        delta: BudgetCounts,
        oldest_live: i64,
    ) -> Result<(), CounterError> {
        self.add_now(bucket, delta, oldest_live);
        Ok(())
    }

    async fn counts_since(&self, oldest_live: i64) -> Result<BudgetCounts, CounterError> {
        Ok(self.counts_now(oldest_live))
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}
