#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The error-budget counter stores: window arithmetic in process, the same
//! answers from Redis (parity), one budget shared by instances with
//! atomic updates, and the resilient store falling back when Redis dies
//! and replaying what Redis missed once it is back.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use isms_domain::continuity::{BudgetCounts, ErrorBudgetStore};
use isms_infra::budget::{MemoryBudget, RedisBudget, ResilientBudget};
use isms_store::testing::{REDIS_URL_VAR, in_ci, service_url};

const MS: Duration = Duration::from_millis(1);
const TTL: Duration = Duration::from_secs(3600);

fn prefix() -> String {
    format!("test:budget:{}:", uuid::Uuid::now_v7().simple())
}

fn c(total: u64, failed: u64, client_errors: u64) -> BudgetCounts {
    BudgetCounts {
        total,
        failed,
        client_errors,
    }
}

/// A sequence of adds and reads whose answers every backend must give:
/// buckets add up, a read drops buckets before its oldest live one, late
/// adds to dead buckets are ignored, and nothing goes negative.
async fn assert_window_semantics(store: &dyn ErrorBudgetStore) {
    assert_eq!(store.counts_since(0).await.unwrap(), c(0, 0, 0));
    store.add(10, c(5, 1, 2), 0).await.unwrap();
    store.add(10, c(3, 0, 1), 0).await.unwrap();
    store.add(11, c(2, 2, 0), 0).await.unwrap();
    store.add(15, c(1, 0, 0), 0).await.unwrap();
    assert_eq!(store.counts_since(0).await.unwrap(), c(11, 3, 3));
    // Bucket 10 leaves the window.
    assert_eq!(store.counts_since(11).await.unwrap(), c(3, 2, 0));
    // A late add to a bucket outside the window counts for nothing.
    store.add(10, c(100, 100, 100), 11).await.unwrap();
    assert_eq!(store.counts_since(11).await.unwrap(), c(3, 2, 0));
    // Adding also evicts.
    store.add(20, c(1, 1, 1), 16).await.unwrap();
    assert_eq!(store.counts_since(16).await.unwrap(), c(1, 1, 1));
    // An empty delta changes nothing.
    store.add(20, c(0, 0, 0), 16).await.unwrap();
    assert_eq!(store.counts_since(16).await.unwrap(), c(1, 1, 1));
    // Everything gone: zero, not negative.
    assert_eq!(store.counts_since(1000).await.unwrap(), c(0, 0, 0));
}

async fn redis(prefix: &str) -> Option<RedisBudget> {
    let url = service_url(REDIS_URL_VAR)?;
    Some(
        RedisBudget::connect(&url, prefix, TTL)
            .await
            .expect("connect"),
    )
}

#[tokio::test]
async fn in_process_window_semantics() {
    let store = MemoryBudget::new();
    assert_window_semantics(&store).await;
    assert_eq!(store.backend(), "in-process");
}

#[tokio::test]
async fn redis_gives_the_same_answers_as_in_process() {
    let p = prefix();
    let Some(redis) = redis(&p).await else { return };
    assert_window_semantics(&redis).await;
    assert_eq!(redis.backend(), "redis");
    // Parity on a longer random-ish sequence.
    let memory = MemoryBudget::new();
    let p2 = prefix();
    let redis2 = redis_again(&p2).await;
    let mut oldest = 0;
    for i in 0..200u64 {
        let bucket = i64::try_from(i / 3).unwrap();
        if i % 17 == 0 {
            oldest = bucket - 5;
        }
        let delta = c(1 + i % 4, u64::from(i % 7 == 0), u64::from(i % 5 == 0));
        memory.add(bucket, delta, oldest).await.unwrap();
        redis2.add(bucket, delta, oldest).await.unwrap();
        if i % 10 == 0 {
            assert_eq!(
                memory.counts_since(oldest).await.unwrap(),
                redis2.counts_since(oldest).await.unwrap(),
                "step {i}"
            );
        }
    }
    redis.clear().await.unwrap();
    redis2.clear().await.unwrap();
}

async fn redis_again(prefix: &str) -> RedisBudget {
    let url = service_url(REDIS_URL_VAR).unwrap();
    RedisBudget::connect(&url, prefix, TTL).await.unwrap()
}

#[tokio::test]
async fn instances_share_one_budget_and_concurrent_adds_are_atomic() {
    let p = prefix();
    let Some(a) = redis(&p).await else { return };
    let b = redis_again(&p).await;
    let other = redis_again(&prefix()).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                store.add(7, c(2, 1, 0), 0).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(a.counts_since(0).await.unwrap(), c(400, 200, 0));
    assert_eq!(b.counts_since(0).await.unwrap(), c(400, 200, 0));
    // Another prefix is another deployment.
    assert_eq!(other.counts_since(0).await.unwrap(), c(0, 0, 0));
    a.clear().await.unwrap();
}

#[tokio::test]
async fn keys_live_under_the_prefix_and_expire() {
    let p = prefix();
    let Some(_) = redis(&p).await else { return };
    let url = service_url(REDIS_URL_VAR).unwrap();
    let short = RedisBudget::connect(&url, &p, 200 * MS).await.unwrap();
    short.add(1, c(1, 0, 0), 0).await.unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{p}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(&p)));
    tokio::time::sleep(400 * MS).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{p}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn without_redis_the_resilient_store_counts_in_process() {
    let store = ResilientBudget::start(None, "", TTL, 50 * MS, 100 * MS);
    assert_window_semantics(store.as_ref()).await;
    assert_eq!(store.backend(), "in-process");
    use isms_domain::continuity::RedisProbe as _;
    assert!(!store.configured());
}

#[tokio::test]
async fn falls_back_when_redis_dies_and_replays_what_it_missed() {
    let Some(bin) = redis_server_binary() else {
        return;
    };
    let mut server = PrivateRedis::start(bin, free_port()).await;
    let p = prefix();
    let store = ResilientBudget::start(Some(server.url()), &p, TTL, 50 * MS, 20 * MS);
    wait_for_backend(&store, "redis").await;
    store.add(1, c(10, 1, 0), 0).await.unwrap();
    assert_eq!(store.counts_since(0).await.unwrap(), c(10, 1, 0));

    server.kill();
    // Counting goes on in process, never failing the caller.
    store.add(1, c(5, 5, 0), 0).await.unwrap();
    wait_for_backend(&store, "in-process").await;
    store.add(2, c(1, 0, 1), 0).await.unwrap();
    assert_eq!(store.counts_since(0).await.unwrap(), c(16, 6, 1));

    // A fresh Redis (it keeps nothing on disk) comes back: the next add
    // replays everything Redis has not acknowledged.
    server.restart().await;
    wait_for_backend(&store, "redis").await;
    store.add(3, c(1, 0, 0), 0).await.unwrap();
    let direct = RedisBudget::connect(&server.url(), &p, TTL).await.unwrap();
    let seen = direct.counts_since(0).await.unwrap();
    // Redis lost the 10 it held before the restart; the outage's 6 were
    // replayed, plus the last 1.
    assert_eq!(seen, c(7, 5, 1));
    assert_eq!(store.counts_since(0).await.unwrap(), seen);
}

async fn wait_for_backend(store: &ResilientBudget, backend: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.backend() != backend {
        assert!(Instant::now() < deadline, "backend never became {backend}");
        tokio::time::sleep(10 * MS).await;
    }
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

/// A throwaway Redis on its own port, so the shared one is never stopped.
struct PrivateRedis {
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    async fn start(bin: PathBuf, port: u16) -> Self {
        let mut s = Self {
            bin,
            port,
            child: None,
        };
        s.restart().await;
        s
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
            if let Ok(r) = RedisBudget::connect(&self.url(), "probe:", TTL).await
                && r.ping().await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(20 * MS).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
