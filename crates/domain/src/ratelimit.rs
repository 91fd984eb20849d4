//! Rate limiting by the generic cell rate algorithm (GCRA): a quota of
//! `limit` requests per `period` is one request every `period / limit`,
//! with bursts of up to `limit`. The only state per key is the theoretical
//! arrival time (TAT) of the next request, so one atomic read-modify-write
//! suffices — in Redis (a Lua script doing this same arithmetic) and in
//! process alike.

use std::time::Duration;

/// `limit` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(60),
        }
    }

    /// Microseconds between two requests at the sustained rate (≥ 1).
    pub fn emission_interval_us(&self) -> i64 {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        (period / i64::from(self.limit.max(1))).max(1)
    }

    /// How far ahead of now the TAT may run: the whole burst.
    pub fn burst_us(&self) -> i64 {
        self.emission_interval_us()
            .saturating_mul(i64::from(self.limit.max(1)))
    }

    /// The `RateLimit-Policy` header value, e.g. `10;w=60`.
    pub fn policy_header(&self) -> String {
        format!("{};w={}", self.limit, self.period.as_secs())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// When denied: how long until one request is allowed again.
    pub retry_after: Duration,
    /// How long until the bucket is full again.
    pub reset_after: Duration,
}

fn us(d: i64) -> Duration {
    Duration::from_micros(u64::try_from(d.max(0)).unwrap_or(0))
}

/// One GCRA step. `tat` is the stored TAT (µs, `None` if the key is new),
/// `now` the current time in µs. Returns the decision and, when allowed,
/// the TAT to store (and keep for at least `reset_after`).
pub fn gcra(tat: Option<i64>, now: i64, quota: Quota) -> (Decision, Option<i64>) {
    let t = quota.emission_interval_us();
    let burst = quota.burst_us();
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(t);
    let allow_at = new_tat - burst;
    if now < allow_at {
        let decision = Decision {
            allowed: false,
            limit: quota.limit,
            remaining: 0,
            retry_after: us(allow_at - now),
            reset_after: us(tat - now),
        };
        return (decision, None);
    }
    let remaining = (now - allow_at) / t;
    let decision = Decision {
        allowed: true,
        limit: quota.limit,
        remaining: u32::try_from(remaining)
            .unwrap_or(u32::MAX)
            .min(quota.limit),
        retry_after: Duration::ZERO,
        reset_after: us(new_tat - now),
    };
    (decision, Some(new_tat))
}

/// Which budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Login, token, refresh and MFA verification.
    Auth,
    /// POST, PUT, PATCH, DELETE.
    Write,
    /// Everything else.
    Read,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Auth => "auth",
            Tier::Write => "write",
            Tier::Read => "read",
        }
    }
}

/// The quota of each tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierQuotas {
    pub auth: Quota,
    pub write: Quota,
    pub read: Quota,
}

impl Default for TierQuotas {
    fn default() -> Self {
        Self {
            auth: Quota::per_minute(10),
            write: Quota::per_minute(30),
            read: Quota::per_minute(100),
        }
    }
}

impl TierQuotas {
    pub fn of(&self, tier: Tier) -> Quota {
        match tier {
            Tier::Auth => self.auth,
            Tier::Write => self.write,
            Tier::Read => self.read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(quota: Quota, at: &[i64]) -> Vec<Decision> {
        let mut tat = None;
        at.iter()
            .map(|&now| {
                let (d, next) = gcra(tat, now, quota);
                if next.is_some() {
                    tat = next;
                }
                d
            })
            .collect()
    }

    #[test]
    fn exactly_limit_requests_pass_in_a_burst() {
        let q = Quota::per_minute(10);
        let out = run(q, &[0; 11]);
        assert!(out[..10].iter().all(|d| d.allowed));
        assert!(!out[10].allowed);
        let remaining: Vec<u32> = out[..10].iter().map(|d| d.remaining).collect();
        assert_eq!(remaining, vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert_eq!(out[10].retry_after, Duration::from_secs(6));
    }

    #[test]
    fn budget_refills_at_the_sustained_rate() {
        let q = Quota::per_minute(10);
        let mut times = vec![0; 10];
        times.push(5_999_999);
        times.push(6_000_000);
        let out = run(q, &times);
        assert!(!out[10].allowed);
        assert!(out[11].allowed);
        assert_eq!(out[11].remaining, 0);
    }

    #[test]
    fn idle_key_is_full_again_after_the_period() {
        let q = Quota::per_minute(3);
        let out = run(q, &[0, 0, 0, 60_000_000]);
        assert!(out[3].allowed);
        assert_eq!(out[3].remaining, 2);
    }

    #[test]
    fn denied_requests_do_not_consume() {
        let q = Quota::per_minute(1);
        let out = run(q, &[0, 1, 2, 60_000_000]);
        assert_eq!(
            out.iter().map(|d| d.allowed).collect::<Vec<_>>(),
            vec![true, false, false, true]
        );
    }

    #[test]
    fn policy_header_names_limit_and_window() {
        assert_eq!(Quota::per_minute(30).policy_header(), "30;w=60");
    }
}
