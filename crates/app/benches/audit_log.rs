#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Audit log throughput, whole-log verification and proof latency on a real
//! database (not a test; not run in CI).
//!
//!     cargo bench -p isms-app --bench audit_log                   # SQLite
//!     ISMS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!         cargo bench -p isms-app --bench audit_log               # + PostgreSQL
//!
//! `ISMS_BENCH_ENTRIES` (default 1000000) sets the size of the log that is
//! verified and proven against.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use isms_domain::audit::{AuditRecord, LogId, NodeId, inclusion_proof_plan, verify_inclusion};
use isms_domain::events::Outcome;
use isms_domain::tenant::{Tenant, TenantName};
use isms_domain::time::now;
use isms_store::testing::TestDatabase;
use isms_store::{DatabaseUrl, Store, StoreOptions};

fn record(tenant: isms_domain::TenantId, i: u64) -> AuditRecord {
    AuditRecord {
        event_type: "user_updated".into(),
        tenant_id: Some(tenant),
        actor_user_id: Some(isms_domain::UserId::new()),
        session_id: Some(isms_domain::SessionId::new()),
        request_id: Some(format!("bench-{i}")),
        resource_type: Some("user".into()),
        resource_id: Some(uuid::Uuid::now_v7().to_string()),
        action: "update".into(),
        outcome: Outcome::Success,
        ip: Some("198.51.100.7".into()),
        user_agent: Some("bench/1.0".into()),
        details: serde_json::json!({ "fields": ["display_name"], "n": i }),
        compliance_flags: vec![],
        risk_score: 6,
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(label: &str, store: Store, entries: u64) {
    store.migrate().await.expect("migrate");
    let tenant = Tenant::new(TenantName::parse("bench").expect("name"), now());
    store.tenants().create(&tenant, &[]).await.expect("tenant");
    let repo = store.audit();
    let log = LogId::tenant(tenant.id);

    // One entry per transaction, as a request appends.
    let single = 2_000u64;
    let started = Instant::now();
    for i in 0..single {
        repo.append(&[record(tenant.id, i)]).await.expect("append");
    }
    let per_s = single as f64 / started.elapsed().as_secs_f64();
    println!("{label}: append, one entry per transaction: {per_s:.0} entries/s");

    // Eight concurrent writers, one entry each per transaction.
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let repo = store.audit();
            let t = tenant.id;
            tokio::spawn(async move {
                for i in 0..250u64 {
                    repo.append(&[record(t, w * 1000 + i)])
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let per_s = 2_000.0 / started.elapsed().as_secs_f64();
    println!("{label}: append, 8 concurrent writers: {per_s:.0} entries/s");

    // Batches of 1000 (bulk import), up to the target size.
    let started = Instant::now();
    let mut size = repo.head(&log).await.expect("head").size;
    let from = size;
    while size < entries {
        let n = (entries - size).min(1000);
        let batch: Vec<_> = (0..n).map(|i| record(tenant.id, size + i)).collect();
        repo.append(&batch).await.expect("append");
        size += n;
    }
    let per_s = (size - from) as f64 / started.elapsed().as_secs_f64();
    println!("{label}: append, batches of 1000: {per_s:.0} entries/s (log now {size} entries)");

    // Reading alone, to tell storage cost from hashing cost.
    let started = Instant::now();
    let mut at = 0;
    let mut read = 0u64;
    loop {
        let batch = repo.scan(&log, at, 10_000).await.expect("scan");
        read += batch.len() as u64;
        if let Some(e) = batch.last() {
            at = e.seq + 1;
        }
        if batch.len() < 10_000 {
            break;
        }
    }
    println!(
        "{label}: read {read} entries: {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // Whole-log verification as the server and CLI run it: read, decode,
    // re-encode, re-hash, rebuild the tree.
    let started = Instant::now();
    let report = isms_app::audit_log::verify_stored(repo.as_ref(), &log, Vec::new(), &[])
        .await
        .expect("verify");
    let took = started.elapsed();
    assert!(report.first_failure.is_none());
    assert_eq!(
        report.root_hash,
        repo.head(&log).await.expect("head").root_hash
    );
    println!(
        "{label}: verify {} entries: {:.2} s ({:.0} entries/s)",
        report.entries,
        took.as_secs_f64(),
        report.entries as f64 / took.as_secs_f64()
    );

    // Inclusion proofs at this size: plan, one node query, assemble.
    let head = repo.head(&log).await.expect("head");
    let mut lat = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let seq = x % head.size;
        let t0 = Instant::now();
        let plan = inclusion_proof_plan(seq, head.size).expect("plan");
        let mut want = plan.nodes().to_vec();
        want.push(NodeId {
            level: 0,
            index: seq,
        });
        let nodes: HashMap<NodeId, _> = repo
            .nodes(&log, &want)
            .await
            .expect("nodes")
            .into_iter()
            .collect();
        let path = plan
            .assemble(&|id| nodes.get(&id).copied())
            .expect("assemble");
        lat.push(t0.elapsed());
        let leaf = nodes[&NodeId {
            level: 0,
            index: seq,
        }];
        assert!(verify_inclusion(
            &leaf,
            seq,
            head.size,
            &path,
            &head.root_hash
        ));
    }
    lat.sort();
    println!(
        "{label}: inclusion proof at {} entries: p50 {:.2} ms, p99 {:.2} ms",
        head.size,
        pct(&lat, 0.5).as_secs_f64() * 1000.0,
        pct(&lat, 0.99).as_secs_f64() * 1000.0
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    let entries: u64 = std::env::var("ISMS_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let db = TestDatabase::sqlite();
    let store = Store::connect(&db.options()).await.expect("sqlite");
    run("sqlite", store, entries).await;
    // A fresh PostgreSQL database of its own (dropped afterwards) when
    // ISMS_TEST_DATABASE_URL names a server.
    if let Some(db) = TestDatabase::postgres().await {
        let mut opts = StoreOptions::new(DatabaseUrl::parse(db.url()).expect("url"));
        opts.max_connections = 10;
        opts.statement_timeout = Duration::from_secs(120);
        let store = Store::connect(&opts).await.expect("postgres");
        run("postgres", store, entries).await;
    }
}
