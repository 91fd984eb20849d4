//! Redis limiter: one budget shared by every instance. Each operation is a
//! single round trip; the GCRA step is a Lua script so read-modify-write is
//! atomic and uses the Redis clock, on which all instances agree.

use std::time::Duration;

use async_trait::async_trait;
use isms_domain::ports::{LimiterError, LimiterStore};
use isms_domain::ratelimit::{Decision, Quota};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{from_us, ttl_ms};

/// A limiter sits on the request path: an unreachable Redis must be noticed
/// quickly, not after the client's default of seconds.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// `isms_domain::ratelimit::gcra` in integer µs. Lua numbers are doubles,
/// exact up to 2^53 µs (285 years), so the arithmetic matches; `%.0f`
/// keeps large values from being written in exponent notation.
const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
local remaining = math.min(math.floor((now - allow_at) / interval), limit)
local reset = new_tat - now
local ttl = math.max(math.ceil(reset / 1000), 1)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl))
return {1, remaining, 0, reset}
";

/// The window starts at the first failure, so only that one sets the TTL.
const FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

fn unavailable(e: RedisError) -> LimiterError {
    LimiterError::Unavailable(e.to_string())
}

/// The Redis `LimiterStore`. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    gcra: Script,
    failure: Script,
}

impl std::fmt::Debug for RedisLimiter {
    // The client's Debug would print the URL, password included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisLimiter")
    }
}

impl RedisLimiter {
    /// Connects within ~500 ms or fails; afterwards the connection is
    /// re-established in the background whenever it drops.
    pub async fn connect(url: &str) -> Result<Self, LimiterError> {
        // The parse error may quote the URL, which may hold a password.
        let client = redis::Client::open(url)
            .map_err(|_| LimiterError::Unavailable("invalid redis URL".into()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // Callers fall back or probe again; retrying here only delays them.
            .set_number_of_retries(0);
        let connecting = ConnectionManager::new_with_config(client, config);
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| LimiterError::Unavailable("redis connect timed out".into()))?
            .map_err(unavailable)?;
        Ok(Self {
            conn,
            gcra: Script::new(GCRA),
            failure: Script::new(FAILURE),
        })
    }

    pub async fn ping(&self) -> Result<(), LimiterError> {
        redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl LimiterStore for RedisLimiter {
    async fn check_rate(&self, key: &str, quota: Quota) -> Result<Decision, LimiterError> {
        let reply: Vec<i64> = self
            .gcra
            .key(key)
            .arg(quota.emission_interval_us())
            .arg(quota.burst_us())
            .arg(quota.limit)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let &[allowed, remaining, retry_after, reset_after] = reply.as_slice() else {
            return Err(LimiterError::Unavailable("malformed GCRA reply".into()));
        };
        Ok(Decision {
            allowed: allowed == 1,
            limit: quota.limit,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            retry_after: from_us(retry_after),
            reset_after: from_us(reset_after),
        })
    }

    async fn add_failure(&self, key: &str, window: Duration) -> Result<u32, LimiterError> {
        let count: i64 = self
            .failure
            .key(key)
            .arg(ttl_ms(window))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(u32::try_from(count.max(0)).unwrap_or(u32::MAX))
    }

    async fn lock(&self, key: &str, ttl: Duration) -> Result<(), LimiterError> {
        redis::cmd("SET")
            .arg(key)
            .arg("1")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn locked_for(&self, key: &str) -> Result<Option<Duration>, LimiterError> {
        let ms: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        // -2: no key; -1: no TTL, which no operation here creates.
        Ok((ms > 0).then(|| Duration::from_millis(ms.unsigned_abs())))
    }

    async fn clear(&self, key: &str) -> Result<(), LimiterError> {
        redis::cmd("DEL")
            .arg(key)
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
