//! Redis budget counters, shared by every instance. Three keys under the
//! configured prefix (one hash tag, so they share a cluster slot): a hash
//! of per-bucket counts, a sorted set of bucket numbers, and a hash of
//! running totals over the live buckets. Each operation is one Lua script:
//! evict expired buckets (subtracting them from the totals), then add or
//! read — atomic, one round trip, O(1) reads however long the window.

use std::time::Duration;

use async_trait::async_trait;
use isms_domain::continuity::{BudgetCounts, CounterError, ErrorBudgetStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

const EVICT: &str = r"
local function evict(oldest)
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. oldest)
  for _, b in ipairs(old) do
    for _, k in ipairs({'t', 'f', 'c'}) do
      local v = tonumber(redis.call('HGET', KEYS[1], b .. ':' .. k) or '0')
      if v ~= 0 then redis.call('HINCRBY', KEYS[3], k, -v) end
      redis.call('HDEL', KEYS[1], b .. ':' .. k)
    end
  end
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. oldest) end
end
";

/// ARGV: bucket, total, failed, client errors, oldest live bucket, TTL ms.
const ADD: &str = r"
evict(ARGV[5])
if tonumber(ARGV[1]) >= tonumber(ARGV[5]) then
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
  local fields = {t = ARGV[2], f = ARGV[3], c = ARGV[4]}
  for k, v in pairs(fields) do
    if tonumber(v) ~= 0 then
      redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':' .. k, v)
      redis.call('HINCRBY', KEYS[3], k, v)
    end
  end
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return 1
";

/// ARGV: oldest live bucket.
const READ: &str = r"
evict(ARGV[1])
return redis.call('HMGET', KEYS[3], 't', 'f', 'c')
";

fn unavailable(e: RedisError) -> CounterError {
    CounterError::Unavailable(e.to_string())
}

/// The Redis `ErrorBudgetStore`. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisBudget {
    conn: ConnectionManager,
    keys: [String; 3],
    ttl_ms: u64,
    add: Script,
    read: Script,
}

impl std::fmt::Debug for RedisBudget {
    // The client's Debug would print the URL, password included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisBudget")
    }
}

impl RedisBudget {
    /// Connects within ~500 ms or fails. Keys live under `prefix` and
    /// expire `ttl` after the last write (longer than the window, so an
    /// idle deployment's counters do not linger forever).
    pub async fn connect(url: &str, prefix: &str, ttl: Duration) -> Result<Self, CounterError> {
        let client = redis::Client::open(url)
            .map_err(|_| CounterError::Unavailable("invalid redis URL".into()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(0);
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| CounterError::Unavailable("redis connect timed out".into()))?
        .map_err(unavailable)?;
        Ok(Self {
            conn,
            keys: [
                format!("{prefix}{{slo}}:buckets"),
                format!("{prefix}{{slo}}:index"),
                format!("{prefix}{{slo}}:totals"),
            ],
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1),
            add: Script::new(&format!("{EVICT}{ADD}")),
            read: Script::new(&format!("{EVICT}{READ}")),
        })
    }

    pub async fn ping(&self) -> Result<(), CounterError> {
        redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    /// Removes this prefix's counters (tests clean up with it).
    pub async fn clear(&self) -> Result<(), CounterError> {
        redis::cmd("DEL")
            .arg(&self.keys[..])
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}

fn count(v: Option<i64>) -> u64 {
    u64::try_from(v.unwrap_or(0).max(0)).unwrap_or(0)
}

#[async_trait]
impl ErrorBudgetStore for RedisBudget {
    async fn add(
        &self,
        bucket: i64,
        delta: BudgetCounts,
        oldest_live: i64,
    ) -> Result<(), CounterError> {
        let mut inv = self.add.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        inv.arg(bucket)
            .arg(delta.total)
            .arg(delta.failed)
            .arg(delta.client_errors)
            .arg(oldest_live)
            .arg(self.ttl_ms);
        let _: i64 = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn counts_since(&self, oldest_live: i64) -> Result<BudgetCounts, CounterError> {
        let mut inv = self.read.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        inv.arg(oldest_live);
        let reply: Vec<Option<i64>> = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let [t, f, c] = reply.as_slice() else {
            return Err(CounterError::Unavailable("malformed budget reply".into()));
        };
        Ok(BudgetCounts {
            total: count(*t),
            failed: count(*f),
            client_errors: count(*c),
        })
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
