#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The limiter backends against a real Redis: the GCRA script matches the
//! domain function, instances share one budget, both backends keep the
//! same counter semantics, and the resilient limiter survives Redis dying
//! and coming back.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use isms_domain::ports::LimiterStore;
use isms_domain::ratelimit::Quota;
use isms_infra::limiter::{MemoryLimiter, RedisLimiter, ResilientLimiter};
use isms_store::testing::{REDIS_URL_VAR, in_ci, service_url};

const MS: Duration = Duration::from_millis(1);

/// A fresh namespace so parallel tests (and reruns) never share keys.
fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::now_v7().simple())
}

async fn redis() -> Option<RedisLimiter> {
    let url = service_url(REDIS_URL_VAR)?;
    Some(RedisLimiter::connect(&url).await.expect("connect to redis"))
}

#[tokio::test]
async fn redis_gcra_allows_exactly_the_limit_then_denies() {
    let Some(redis) = redis().await else { return };
    let key = format!("{}rate", prefix());
    let quota = Quota::per_minute(5);
    for expected in (0..5).rev() {
        let d = redis.check_rate(&key, quota).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected);
        assert_eq!(d.limit, 5);
        assert!(d.reset_after <= Duration::from_secs(60));
    }
    let denied = redis.check_rate(&key, quota).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    // One request every 12 s; a little of that has passed already.
    assert!(denied.retry_after > Duration::from_secs(11), "{denied:?}");
    assert!(denied.retry_after <= Duration::from_secs(12), "{denied:?}");
    assert!(denied.reset_after > Duration::from_secs(59), "{denied:?}");
    assert!(denied.reset_after <= Duration::from_secs(60), "{denied:?}");
    assert_eq!(redis.backend(), "redis");
    redis.clear(&key).await.unwrap();
}

#[tokio::test]
async fn redis_budget_refills_and_the_key_expires() {
    let Some(redis) = redis().await else { return };
    let key = format!("{}rate", prefix());
    let quota = Quota {
        limit: 2,
        period: 100 * MS,
    };
    assert!(redis.check_rate(&key, quota).await.unwrap().allowed);
    assert!(redis.check_rate(&key, quota).await.unwrap().allowed);
    assert!(!redis.check_rate(&key, quota).await.unwrap().allowed);
    tokio::time::sleep(60 * MS).await;
    assert!(redis.check_rate(&key, quota).await.unwrap().allowed);
    // The stored TAT carries a TTL, so idle keys do not pile up.
    tokio::time::sleep(150 * MS).await;
    assert_eq!(redis.locked_for(&key).await.unwrap(), None);
}

#[tokio::test]
async fn two_redis_instances_share_one_budget() {
    let Some(url) = service_url(REDIS_URL_VAR) else {
        return;
    };
    let a = RedisLimiter::connect(&url).await.unwrap();
    let b = RedisLimiter::connect(&url).await.unwrap();
    let key = format!("{}shared", prefix());
    let quota = Quota::per_minute(4);
    let mut remaining = Vec::new();
    for server in [&a, &b, &a, &b] {
        let d = server.check_rate(&key, quota).await.unwrap();
        assert!(d.allowed);
        remaining.push(d.remaining);
    }
    assert_eq!(remaining, vec![3, 2, 1, 0]);
    assert!(!a.check_rate(&key, quota).await.unwrap().allowed);
    assert!(!b.check_rate(&key, quota).await.unwrap().allowed);
    b.lock(&key, Duration::from_secs(5)).await.unwrap();
    assert!(a.locked_for(&key).await.unwrap().is_some());
    a.clear(&key).await.unwrap();
}

/// What lockout relies on, identical for every backend.
async fn assert_counter_semantics(limiter: &dyn LimiterStore, prefix: &str) {
    let fails = format!("{prefix}fails");
    for n in 1..=3 {
        assert_eq!(limiter.add_failure(&fails, 50 * MS).await.unwrap(), n);
    }
    tokio::time::sleep(80 * MS).await;
    assert_eq!(limiter.add_failure(&fails, 50 * MS).await.unwrap(), 1);

    // The window runs from the first failure, not the latest.
    let fixed = format!("{prefix}fixed");
    assert_eq!(limiter.add_failure(&fixed, 200 * MS).await.unwrap(), 1);
    tokio::time::sleep(120 * MS).await;
    assert_eq!(limiter.add_failure(&fixed, 200 * MS).await.unwrap(), 2);
    tokio::time::sleep(100 * MS).await;
    assert_eq!(limiter.add_failure(&fixed, 200 * MS).await.unwrap(), 1);

    let lock = format!("{prefix}lock");
    assert_eq!(limiter.locked_for(&lock).await.unwrap(), None);
    limiter.lock(&lock, Duration::from_secs(30)).await.unwrap();
    let left = limiter.locked_for(&lock).await.unwrap().unwrap();
    assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30));
    limiter.clear(&lock).await.unwrap();
    assert_eq!(limiter.locked_for(&lock).await.unwrap(), None);

    let short = format!("{prefix}short");
    limiter.lock(&short, 40 * MS).await.unwrap();
    assert!(limiter.locked_for(&short).await.unwrap().is_some());
    tokio::time::sleep(70 * MS).await;
    assert_eq!(limiter.locked_for(&short).await.unwrap(), None);

    // clear resets a counter and rate state, and only under that key.
    let counter = format!("{prefix}counter");
    let other = format!("{prefix}other");
    limiter
        .add_failure(&counter, Duration::from_secs(60))
        .await
        .unwrap();
    limiter
        .add_failure(&other, Duration::from_secs(60))
        .await
        .unwrap();
    limiter.clear(&counter).await.unwrap();
    let n = limiter.add_failure(&counter, Duration::from_secs(60)).await;
    assert_eq!(n.unwrap(), 1);
    let n = limiter.add_failure(&other, Duration::from_secs(60)).await;
    assert_eq!(n.unwrap(), 2);
    let rate = format!("{prefix}rate");
    let quota = Quota::per_minute(1);
    assert!(limiter.check_rate(&rate, quota).await.unwrap().allowed);
    assert!(!limiter.check_rate(&rate, quota).await.unwrap().allowed);
    limiter.clear(&rate).await.unwrap();
    assert!(limiter.check_rate(&rate, quota).await.unwrap().allowed);

    for key in [fails, fixed, counter, other, rate] {
        limiter.clear(&key).await.unwrap();
    }
}

#[tokio::test]
async fn counter_semantics_match_on_both_backends() {
    assert_counter_semantics(&MemoryLimiter::new(), &prefix()).await;
    let Some(redis) = redis().await else { return };
    assert_counter_semantics(&redis, &prefix()).await;
}

#[tokio::test]
async fn connect_fails_fast_when_redis_is_unreachable() {
    let url = format!("redis://:secret@127.0.0.1:{}", free_port());
    let started = Instant::now();
    let err = RedisLimiter::connect(&url).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!err.to_string().contains("secret"));
    let err = RedisLimiter::connect("not a url").await.unwrap_err();
    assert!(err.to_string().contains("invalid"));
}

#[tokio::test]
async fn without_a_url_the_limiter_is_in_process() {
    let limiter = ResilientLimiter::start(None, "", 50 * MS, 100 * MS);
    assert!(!limiter.redis_configured());
    assert_eq!(limiter.backend(), "in-process");
    assert_counter_semantics(limiter.as_ref(), &prefix()).await;
    assert_eq!(limiter.backend(), "in-process");
}

#[tokio::test]
async fn unreachable_redis_at_start_means_in_process() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let limiter = ResilientLimiter::start(Some(url), "", 50 * MS, 100 * MS);
    assert!(limiter.redis_configured());
    let key = format!("{}rate", prefix());
    let started = Instant::now();
    let d = limiter
        .check_rate(&key, Quota::per_minute(3))
        .await
        .unwrap();
    assert!(d.allowed);
    assert!(started.elapsed() < 20 * MS);
    tokio::time::sleep(300 * MS).await;
    assert_eq!(limiter.backend(), "in-process");
}

#[tokio::test]
async fn the_probe_does_not_keep_the_limiter_alive() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let limiter = ResilientLimiter::start(Some(url), "", 50 * MS, 10 * MS);
    tokio::time::sleep(50 * MS).await;
    let weak = Arc::downgrade(&limiter);
    drop(limiter);
    assert!(weak.upgrade().is_none());
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn redis_server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("redis-server"))
        .find(|bin| bin.is_file());
    if found.is_none() {
        assert!(!in_ci(), "redis-server must be on PATH when CI is set");
        eprintln!("skipping: redis-server is not on PATH");
    }
    found
}

/// A throwaway Redis, so the shared one on 6379 is never stopped.
struct RedisServer {
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    async fn start(bin: PathBuf, port: u16) -> Self {
        let mut server = Self {
            bin,
            port,
            child: None,
        };
        server.restart().await;
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(redis) = RedisLimiter::connect(&self.url()).await
                && redis.ping().await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(20 * MS).await;
        }
    }

    /// SIGSTOP/SIGCONT: a Redis that hangs instead of refusing.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Records this crate's events, to count state-change logs.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target().starts_with("isms_infra") {
            let mut line = Line(format!("{} ", event.metadata().level()));
            event.record(&mut line);
            self.0.lock().unwrap().push(line.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

async fn wait_for_backend(limiter: &ResilientLimiter, backend: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while limiter.backend() != backend {
        assert!(Instant::now() < deadline, "backend never became {backend}");
        tokio::time::sleep(10 * MS).await;
    }
}

#[tokio::test]
async fn falls_back_to_in_process_and_returns_to_redis() {
    let Some(bin) = redis_server_binary() else {
        return;
    };
    let events = Events::default();
    // The probe runs on this (current-thread) runtime, so a thread-local
    // subscriber sees its events too.
    let _subscriber = tracing::subscriber::set_default(events.clone());
    let mut server = RedisServer::start(bin, free_port()).await;
    let url = server.url();
    let limiter = ResilientLimiter::start(Some(url.clone()), "", 50 * MS, 100 * MS);
    wait_for_backend(&limiter, "redis", Duration::from_secs(3)).await;

    let p = prefix();
    let before = format!("{p}before");
    limiter
        .lock(&before, Duration::from_secs(60))
        .await
        .unwrap();
    let plain = RedisLimiter::connect(&url).await.unwrap();
    assert!(plain.locked_for(&before).await.unwrap().is_some());

    server.kill();
    let during = format!("{p}during");
    let quota = Quota::per_minute(3);
    for expected in [2, 1, 0] {
        let started = Instant::now();
        let d = limiter.check_rate(&during, quota).await.unwrap();
        let took = started.elapsed();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected);
        assert!(took < 150 * MS, "an op took {took:?} with redis down");
        assert_eq!(limiter.backend(), "in-process");
    }
    limiter
        .lock(&during, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(limiter.locked_for(&during).await.unwrap().is_some());
    // Down means no Redis attempt per request: in-process speed.
    let started = Instant::now();
    for _ in 0..100 {
        limiter
            .add_failure(&during, Duration::from_secs(60))
            .await
            .unwrap();
    }
    assert!(started.elapsed() < 50 * MS);

    server.restart().await;
    wait_for_backend(&limiter, "redis", Duration::from_secs(3)).await;
    let after = format!("{p}after");
    limiter.lock(&after, Duration::from_secs(60)).await.unwrap();
    let plain = RedisLimiter::connect(&url).await.unwrap();
    assert!(plain.locked_for(&after).await.unwrap().is_some());
    // Back on Redis, the in-process lock set while it was down is not seen.
    assert_eq!(limiter.locked_for(&during).await.unwrap(), None);

    let logged = events.0.lock().unwrap().clone();
    let changes: Vec<&String> = logged
        .iter()
        .filter(|l| l.contains("ratelimit.backend_changed"))
        .collect();
    assert_eq!(changes.len(), 3, "one log per state change: {logged:#?}");
    assert!(changes[0].starts_with("INFO") && changes[0].contains("backend=\"redis\""));
    assert!(changes[1].starts_with("WARN") && changes[1].contains("in-process"));
    assert!(changes[1].contains("reason="));
    assert!(changes[2].starts_with("INFO") && changes[2].contains("backend=\"redis\""));
    for line in &logged {
        assert!(!line.contains(&p), "a key was logged: {line}");
        assert!(
            !line.contains(&server.port.to_string()),
            "the URL was logged: {line}"
        );
    }
}

#[tokio::test]
async fn a_hung_redis_costs_one_timeout_then_in_process() {
    let Some(bin) = redis_server_binary() else {
        return;
    };
    let server = RedisServer::start(bin, free_port()).await;
    let limiter = ResilientLimiter::start(Some(server.url()), "", 50 * MS, 100 * MS);
    wait_for_backend(&limiter, "redis", Duration::from_secs(3)).await;

    server.signal("-STOP");
    let key = format!("{}hung", prefix());
    let started = Instant::now();
    assert_eq!(
        limiter
            .add_failure(&key, Duration::from_secs(60))
            .await
            .unwrap(),
        1
    );
    let took = started.elapsed();
    assert!(took < 150 * MS, "the first op took {took:?}");
    assert_eq!(limiter.backend(), "in-process");
    let started = Instant::now();
    assert_eq!(
        limiter
            .add_failure(&key, Duration::from_secs(60))
            .await
            .unwrap(),
        2
    );
    assert!(started.elapsed() < 20 * MS);

    server.signal("-CONT");
    wait_for_backend(&limiter, "redis", Duration::from_secs(3)).await;
    limiter.lock(&key, Duration::from_secs(60)).await.unwrap();
    let plain = RedisLimiter::connect(&server.url()).await.unwrap();
    assert!(plain.locked_for(&key).await.unwrap().is_some());
}
