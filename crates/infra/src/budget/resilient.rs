//! Redis when it answers, in process when it does not — the limiter's
//! approach (`limiter::resilient`). Every delta is counted in process as
//! well, so a fallback still knows this instance's traffic; deltas Redis
//! missed while it was down are replayed once it answers, so the shared
//! budget does not forget an outage's failures (an attempt that timed out
//! but was applied may be counted twice: over-counting failures errs on
//! the safe side of an SLO).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use isms_domain::continuity::{BudgetCounts, CounterError, ErrorBudgetStore, RedisProbe};
use tokio::time::MissedTickBehavior;
use tracing::Instrument;

use super::{MemoryBudget, RedisBudget};

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

pub struct ResilientBudget {
    memory: MemoryBudget,
    redis: OnceLock<RedisBudget>,
    state: AtomicU8,
    timeout: Duration,
    configured: bool,
    /// Deltas Redis has not acknowledged, by bucket.
    unsynced: Mutex<BTreeMap<i64, BudgetCounts>>,
}

impl std::fmt::Debug for ResilientBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResilientBudget")
            .field("backend", &self.backend())
            .field("redis_configured", &self.configured)
            .finish()
    }
}

impl ResilientBudget {
    /// Starts in process and, when `redis_url` is set, probes Redis every
    /// `probe_interval` (from a task that ends when the store is dropped).
    /// Redis keys live under `key_prefix` and expire `ttl` after the last
    /// write.
    pub fn start(
        redis_url: Option<String>,
        key_prefix: &str,
        ttl: Duration,
        timeout: Duration,
        probe_interval: Duration,
    ) -> Arc<Self> {
        let store = Arc::new(Self {
            memory: MemoryBudget::new(),
            redis: OnceLock::new(),
            state: AtomicU8::new(UNKNOWN),
            timeout,
            configured: redis_url.is_some(),
            unsynced: Mutex::new(BTreeMap::new()),
        });
        if let Some(url) = redis_url {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    // Background work: its lines serve no request.
                    let span = tracing::info_span!("job", job = "budget_redis_probe");
                    runtime.spawn(
                        probe(
                            Arc::downgrade(&store),
                            url,
                            key_prefix.to_owned(),
                            ttl,
                            probe_interval,
                        )
                        .instrument(span),
                    );
                }
                Err(_) => store.mark_down(&CounterError::Unavailable(
                    "no async runtime to reach redis from".into(),
                )),
            }
        }
        store
    }

    fn active(&self) -> Option<&RedisBudget> {
        if self.state.load(Ordering::Acquire) == UP {
            self.redis.get()
        } else {
            None
        }
    }

    async fn attempt<T>(&self, op: impl Future<Output = Result<T, CounterError>>) -> Option<T> {
        let result = tokio::time::timeout(self.timeout, op)
            .await
            .unwrap_or_else(|_| Err(CounterError::Unavailable("redis timed out".into())));
        result.inspect_err(|e| self.mark_down(e)).ok()
    }

    fn mark_down(&self, reason: &CounterError) {
        if self.state.swap(DOWN, Ordering::AcqRel) != DOWN {
            tracing::warn!(backend = "in-process", reason = %reason, "slo.budget_backend_changed");
        }
    }

    fn mark_up(&self) {
        if self.state.swap(UP, Ordering::AcqRel) != UP {
            tracing::info!(backend = "redis", "slo.budget_backend_changed");
        }
    }

    fn unsynced<T>(&self, f: impl FnOnce(&mut BTreeMap<i64, BudgetCounts>) -> T) -> T {
        let mut guard = match self.unsynced.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

async fn probe(
    store: Weak<ResilientBudget>,
    url: String,
    prefix: String,
    ttl: Duration,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some((redis, timeout)) = store.upgrade().map(|s| (s.redis.get().cloned(), s.timeout))
        else {
            return;
        };
        let (connected, result) = match redis {
            Some(redis) => (None, ping(&redis, timeout).await),
            None => match RedisBudget::connect(&url, &prefix, ttl).await {
                Ok(redis) => {
                    let pinged = ping(&redis, timeout).await;
                    (Some(redis), pinged)
                }
                Err(e) => (None, Err(e)),
            },
        };
        let Some(store) = store.upgrade() else {
            return;
        };
        if let Some(redis) = connected {
            // Only this task sets it.
            let _ = store.redis.set(redis);
        }
        match result {
            Ok(()) => store.mark_up(),
            Err(e) => store.mark_down(&e),
        }
    }
}

async fn ping(redis: &RedisBudget, timeout: Duration) -> Result<(), CounterError> {
    tokio::time::timeout(timeout, redis.ping())
        .await
        .unwrap_or_else(|_| Err(CounterError::Unavailable("redis ping timed out".into())))
}

#[async_trait]
impl ErrorBudgetStore for ResilientBudget {
    async fn add(
        &self,
        bucket: i64,
        delta: BudgetCounts,
        oldest_live: i64,
    ) -> Result<(), CounterError> {
        self.memory.add_now(bucket, delta, oldest_live);
        if !self.configured {
            return Ok(());
        }
        let pending = self.unsynced(|u| {
            u.entry(bucket).or_default().add(delta);
            // What left the window no longer matters to anyone.
            *u = u.split_off(&oldest_live);
            std::mem::take(u)
        });
        let Some(redis) = self.active() else {
            self.unsynced(|u| merge(u, pending));
            return Ok(());
        };
        let mut left = pending.into_iter();
        while let Some((b, d)) = left.next() {
            if self.attempt(redis.add(b, d, oldest_live)).await.is_none() {
                let rest: BTreeMap<_, _> = std::iter::once((b, d)).chain(left).collect();
                self.unsynced(|u| merge(u, rest));
                break;
            }
        }
        Ok(())
    }

    async fn counts_since(&self, oldest_live: i64) -> Result<BudgetCounts, CounterError> {
        if let Some(redis) = self.active()
            && let Some(counts) = self.attempt(redis.counts_since(oldest_live)).await
        {
            return Ok(counts);
        }
        Ok(self.memory.counts_now(oldest_live))
    }

    fn backend(&self) -> &'static str {
        if self.state.load(Ordering::Acquire) == UP {
            "redis"
        } else {
            "in-process"
        }
    }
}

fn merge(into: &mut BTreeMap<i64, BudgetCounts>, from: BTreeMap<i64, BudgetCounts>) {
    for (b, d) in from {
        into.entry(b).or_default().add(d);
    }
}

#[async_trait]
impl RedisProbe for ResilientBudget {
    fn configured(&self) -> bool {
        self.configured
    }

    async fn ping(&self) -> Result<(), CounterError> {
        match self.redis.get() {
            Some(redis) => ping(redis, self.timeout).await,
            None => Err(CounterError::Unavailable("redis not connected".into())),
        }
    }
}
