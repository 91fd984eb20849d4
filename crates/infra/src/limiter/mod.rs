//! `LimiterStore` adapters: Redis for one budget across instances, an
//! in-process cache when Redis is absent, and a wrapper that falls back
//! from the first to the second without failing requests.

mod memory;
mod redis;
mod resilient;

pub use self::memory::MemoryLimiter;
pub use self::redis::RedisLimiter;
pub use self::resilient::ResilientLimiter;

use std::time::Duration;

/// A TTL in whole milliseconds, rounded up and at least 1 ms, because Redis
/// rejects `PX 0` and the in-process backend mirrors Redis. Capped far
/// below the point where Redis' `now + ttl` would overflow.
fn ttl_ms(ttl: Duration) -> u64 {
    let ms = u64::try_from(ttl.as_micros().div_ceil(1000)).unwrap_or(u64::MAX);
    ms.clamp(1, u64::MAX >> 4)
}

/// Microseconds (as the GCRA arithmetic uses them) to a duration.
fn from_us(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}
