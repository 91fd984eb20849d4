#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Risk management end to end on the real server (release build, SQLite by
//! default; not a test, not run in CI):
//!
//!     cargo bench -p isms --bench risk
//!
//! (`ISMS_BENCH_BACKEND=postgres ISMS_TEST_DATABASE_URL=postgres://…` runs
//! it on PostgreSQL.)
//!
//! 1. `POST /api/v1/assessments/run` over `ISMS_BENCH_ASSETS` assets
//!    (default 10000) with 20 exposures each (half through an open
//!    vulnerability), all due; target under 10 s.
//! 2. `GET /api/v1/risks` (first pages and deep cursor pages, limit 20 and
//!    100) in a second tenant holding 10,000 risks; target p99 under 20 ms.
//!
//! The data is seeded through the store's repository (the HTTP API would
//! take minutes to create 200,000 links); the timed parts are HTTP only.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use isms_domain::TenantId;
use isms_domain::risk::{
    Asset, AssetDraft, AssetStatus, AssetType, CiaProperty, CiaSet, Exposure, Likelihood, Risk,
    RiskMatrixConfig, RiskRepository, Severity, Threat, ThreatCategory, ThreatDraft, Vulnerability,
    VulnerabilityDraft, VulnerabilityStatus, score_pair,
};
use isms_domain::time::now;
use serde_json::Value;
use support::{Backend, TestApp};

const EXPOSURES_PER_ASSET: usize = 20;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `assets` assets, each linked to 20 threats, every other one through
/// an open vulnerability of that asset.
async fn seed(repo: &dyn RiskRepository, tenant: TenantId, assets: usize) {
    let config = RiskMatrixConfig::default();
    let at = now();
    let likelihoods = Likelihood::ALL;
    let properties = [
        CiaProperty::Confidentiality,
        CiaProperty::Integrity,
        CiaProperty::Availability,
    ];
    let mut threats = Vec::new();
    for i in 0..EXPOSURES_PER_ASSET {
        let t = Threat::create(
            tenant,
            ThreatDraft {
                name: format!("bench threat {i}"),
                category: ThreatCategory::Deliberate,
                source: None,
                description: String::new(),
                targets: CiaSet::of(&[properties[i % 3]]),
                base_likelihood: likelihoods[i % likelihoods.len()],
            },
            at,
        )
        .unwrap();
        repo.create_threat(&t, &[]).await.unwrap();
        threats.push(t);
    }
    let started = Instant::now();
    for n in 0..assets {
        let rating = u8::try_from(n % 4 + 1).unwrap();
        let asset = Asset::create(
            tenant,
            AssetDraft {
                name: format!("bench asset {n:05}"),
                description: "seeded for the benchmark".into(),
                asset_type: AssetType::Information,
                owner: None,
                custodian: None,
                classification: Some(isms_domain::crypto::Classification::Internal),
                confidentiality: rating,
                integrity: 5 - rating,
                availability: 2,
                business_value: 3,
                location: None,
                tags: vec!["bench".into()],
                status: AssetStatus::Active,
                next_review_at: None,
            },
            at,
        )
        .unwrap();
        repo.create_asset(&asset, &[]).await.unwrap();
        let vuln = Vulnerability::create(
            tenant,
            VulnerabilityDraft {
                name: format!("bench vulnerability {n}"),
                description: String::new(),
                severity: [
                    Severity::Low,
                    Severity::Medium,
                    Severity::High,
                    Severity::Critical,
                ][n % 4],
                cve: None,
                cwe: None,
                affected_assets: vec![asset.id],
                status: VulnerabilityStatus::Open,
                discovered_at: at - chrono::Duration::days(1),
                remediated_at: None,
            },
            at,
        )
        .unwrap();
        repo.create_vulnerability(&vuln, &[]).await.unwrap();
        for (i, t) in threats.iter().enumerate() {
            let v = (i % 2 == 0).then_some(&vuln);
            let exposure = Exposure::link(&asset, t, v).unwrap();
            let risk = Risk::new(exposure, score_pair(&asset, t, v, &config), at);
            repo.add_exposure(&risk, &[]).await.unwrap();
        }
        if (n + 1) % 1000 == 0 {
            eprintln!("  seeded {} assets ({:.0?})", n + 1, started.elapsed());
        }
    }
}

async fn tenant_of(app: &TestApp, token: &str) -> TenantId {
    let me: Value = app
        .get_auth("/api/v1/users/me", token)
        .await
        .json()
        .await
        .unwrap();
    me["tenant_id"].as_str().unwrap().parse().unwrap()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let assets: usize = std::env::var("ISMS_BENCH_ASSETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // SQLite unless `ISMS_BENCH_BACKEND=postgres` (with
    // `ISMS_TEST_DATABASE_URL`).
    let backend = match std::env::var("ISMS_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let app = TestApp::start(backend, &[("ISMS_REQUEST_TIMEOUT_SECS", "120")])
        .await
        .expect("ISMS_BENCH_BACKEND=postgres needs ISMS_TEST_DATABASE_URL");
    let services = app.services().await;
    let repo = services.store.risks();
    let admin = app.admin().await.access;
    let tenant = tenant_of(&app, &admin).await;

    eprintln!("seeding {assets} assets × {EXPOSURES_PER_ASSET} exposures");
    seed(repo.as_ref(), tenant, assets).await;
    let started = Instant::now();
    let res = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
        .post(app.url("/api/v1/assessments/run"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["assessed"].as_u64(), Some(assets as u64), "{body}");
    println!(
        "POST /assessments/run: {assets} assets × {EXPOSURES_PER_ASSET} exposures in {:.2} s \
         ({:.0} assets/s; {body})",
        elapsed.as_secs_f64(),
        assets as f64 / elapsed.as_secs_f64()
    );

    // The register at 10,000 risks, in a tenant of its own.
    let (_, other) = app
        .other_tenant("Register bench", "reg@bench.example")
        .await;
    let other_tenant = tenant_of(&app, &other.access).await;
    seed(repo.as_ref(), other_tenant, 10_000 / EXPOSURES_PER_ASSET).await;
    let mut cursors = vec![None];
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(c) => format!("/api/v1/risks?limit=100&cursor={c}"),
            None => "/api/v1/risks?limit=100".to_owned(),
        };
        let page: Value = app
            .get_auth(&path, &other.access)
            .await
            .json()
            .await
            .unwrap();
        next = page["next_cursor"].as_str().map(str::to_owned);
        match &next {
            Some(c) => cursors.push(Some(c.clone())),
            None => break,
        }
    }
    assert_eq!(cursors.len(), 100, "10,000 risks in pages of 100");
    for limit in [20, 100] {
        let mut times = Vec::new();
        for round in 0..1000 {
            let cursor = &cursors[(round * 37) % cursors.len()];
            let path = match cursor {
                Some(c) => format!("/api/v1/risks?limit={limit}&cursor={c}"),
                None => format!("/api/v1/risks?limit={limit}"),
            };
            let t = Instant::now();
            let res = app.get_auth(&path, &other.access).await;
            assert_eq!(res.status(), 200);
            let _ = res.bytes().await.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "GET /risks?limit={limit} at 10,000 risks: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (1000 requests)",
            pct(&times, 0.50).as_secs_f64() * 1e3,
            pct(&times, 0.99).as_secs_f64() * 1e3,
            pct(&times, 1.0).as_secs_f64() * 1e3,
        );
    }
    app.stop().await;
}
