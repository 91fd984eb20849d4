//! Redis when it answers, the in-process limiter when it does not. Rate
//! limiting must never fail a request: an error or a slow Redis costs one
//! timeout, then requests stay in process (no Redis attempt each) until a
//! background probe sees Redis answer again.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use isms_domain::ports::{LimiterError, LimiterStore};
use isms_domain::ratelimit::{Decision, Quota};
use tokio::time::MissedTickBehavior;
use tracing::Instrument;

use super::{MemoryLimiter, RedisLimiter};

/// Before the first probe; the first verdict is logged like a change.
const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// Falls back from Redis to the in-process limiter and back.
pub struct ResilientLimiter {
    memory: MemoryLimiter,
    /// Set once by the probe on the first successful connect; the
    /// connection reconnects by itself afterwards. Lock-free to read.
    redis: OnceLock<RedisLimiter>,
    state: AtomicU8,
    timeout: Duration,
    configured: bool,
    /// Namespaces every key, so deployments (or test runs) sharing one
    /// Redis never share counters.
    key_prefix: String,
}

impl std::fmt::Debug for ResilientLimiter {
    // No URL (password) and no keys (e-mail addresses).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResilientLimiter")
            .field("backend", &self.backend())
            .field("redis_configured", &self.configured)
            .finish()
    }
}

impl ResilientLimiter {
    /// Per-operation budget for Redis before falling back.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
    pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(1);

    /// Starts in process and, when `redis_url` is set, probes Redis every
    /// `probe_interval` (from a task that ends when the limiter is dropped),
    /// switching to it once it answers. Never fails: an unreachable Redis
    /// only means in process until it is reachable.
    pub fn start(
        redis_url: Option<String>,
        key_prefix: &str,
        timeout: Duration,
        probe_interval: Duration,
    ) -> Arc<Self> {
        let limiter = Arc::new(Self {
            memory: MemoryLimiter::new(),
            redis: OnceLock::new(),
            state: AtomicU8::new(UNKNOWN),
            timeout,
            configured: redis_url.is_some(),
            key_prefix: key_prefix.to_owned(),
        });
        if let Some(url) = redis_url {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    // Background work: its lines serve no request.
                    let span = tracing::info_span!("job", job = "limiter_redis_probe");
                    runtime.spawn(
                        probe(Arc::downgrade(&limiter), url, probe_interval).instrument(span),
                    );
                }
                Err(_) => limiter.mark_down(&LimiterError::Unavailable(
                    "no async runtime to reach redis from".into(),
                )),
            }
        }
        limiter
    }

    pub fn redis_configured(&self) -> bool {
        self.configured
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    fn active(&self) -> Option<&RedisLimiter> {
        if self.state.load(Ordering::Acquire) == UP {
            self.redis.get()
        } else {
            None
        }
    }

    /// Runs one Redis operation within the timeout; `None` means the caller
    /// answers from memory and Redis is now considered down.
    async fn attempt<T>(&self, op: impl Future<Output = Result<T, LimiterError>>) -> Option<T> {
        let result = tokio::time::timeout(self.timeout, op)
            .await
            .unwrap_or_else(|_| Err(LimiterError::Unavailable("redis timed out".into())));
        result.inspect_err(|e| self.mark_down(e)).ok()
    }

    fn mark_down(&self, reason: &LimiterError) {
        if self.state.swap(DOWN, Ordering::AcqRel) != DOWN {
            tracing::warn!(backend = "in-process", reason = %reason, "ratelimit.backend_changed");
        }
    }

    fn mark_up(&self) {
        if self.state.swap(UP, Ordering::AcqRel) != UP {
            tracing::info!(backend = "redis", "ratelimit.backend_changed");
        }
    }
}

/// Connects lazily and pings; holds the limiter only between awaits so a
/// dropped limiter ends the loop at the next tick.
async fn probe(limiter: Weak<ResilientLimiter>, url: String, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some((redis, timeout)) = limiter
            .upgrade()
            .map(|l| (l.redis.get().cloned(), l.timeout))
        else {
            return;
        };
        let (redis, result) = match redis {
            Some(redis) => {
                let pinged = ping(&redis, timeout).await;
                (None, pinged)
            }
            None => match RedisLimiter::connect(&url).await {
                Ok(redis) => {
                    let pinged = ping(&redis, timeout).await;
                    (Some(redis), pinged)
                }
                Err(e) => (None, Err(e)),
            },
        };
        let Some(limiter) = limiter.upgrade() else {
            return;
        };
        if let Some(redis) = redis {
            // Only this task sets it, so it cannot be set already.
            let _ = limiter.redis.set(redis);
        }
        match result {
            Ok(()) => limiter.mark_up(),
            Err(e) => limiter.mark_down(&e),
        }
    }
}

async fn ping(redis: &RedisLimiter, timeout: Duration) -> Result<(), LimiterError> {
    tokio::time::timeout(timeout, redis.ping())
        .await
        .unwrap_or_else(|_| Err(LimiterError::Unavailable("redis ping timed out".into())))
}

#[async_trait]
impl LimiterStore for ResilientLimiter {
    async fn check_rate(&self, key: &str, quota: Quota) -> Result<Decision, LimiterError> {
        let key = &self.key(key);
        if let Some(redis) = self.active()
            && let Some(decision) = self.attempt(redis.check_rate(key, quota)).await
        {
            return Ok(decision);
        }
        Ok(self.memory.check(key, quota))
    }

    async fn add_failure(&self, key: &str, window: Duration) -> Result<u32, LimiterError> {
        let key = &self.key(key);
        if let Some(redis) = self.active()
            && let Some(count) = self.attempt(redis.add_failure(key, window)).await
        {
            return Ok(count);
        }
        Ok(self.memory.failure(key, window))
    }

    async fn lock(&self, key: &str, ttl: Duration) -> Result<(), LimiterError> {
        let key = &self.key(key);
        if let Some(redis) = self.active()
            && self.attempt(redis.lock(key, ttl)).await.is_some()
        {
            return Ok(());
        }
        self.memory.set_lock(key, ttl);
        Ok(())
    }

    async fn locked_for(&self, key: &str) -> Result<Option<Duration>, LimiterError> {
        let key = &self.key(key);
        if let Some(redis) = self.active()
            && let Some(left) = self.attempt(redis.locked_for(key)).await
        {
            return Ok(left);
        }
        Ok(self.memory.remaining(key))
    }

    async fn clear(&self, key: &str) -> Result<(), LimiterError> {
        let key = &self.key(key);
        if let Some(redis) = self.active()
            && self.attempt(redis.clear(key)).await.is_some()
        {
            return Ok(());
        }
        self.memory.remove(key);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        if self.state.load(Ordering::Acquire) == UP {
            "redis"
        } else {
            "in-process"
        }
    }
}
