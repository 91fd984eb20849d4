#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `GET /metrics` over real HTTP: who may scrape it, that it parses as
//! Prometheus text, that counters move with what the server does, and that
//! route labels stay bounded whatever paths clients send.

mod support;

use std::collections::BTreeMap;

use prom_text_format_parser::{Scrape, Type, ValueType};
use support::{ADMIN_EMAIL, Backend, TestApp};

on_both_backends!(counters_follow_requests_logins_and_rejections);

/// One sample line: its full series name (with `_bucket`, `_sum`,
/// `_count` for histograms), labels and value.
struct Line {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

async fn scrape(app: &TestApp) -> Vec<Line> {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = res.text().await.unwrap();
    let parsed = Scrape::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut lines = Vec::new();
    for metric in parsed.metrics {
        for sample in metric.samples {
            let suffix = match (metric.kind, sample.value.value_type) {
                (_, ValueType::Sum) => "_sum",
                (_, ValueType::Count) => "_count",
                (Type::Histogram, ValueType::Sample) => "_bucket",
                _ => "",
            };
            lines.push(Line {
                name: format!("{}{suffix}", metric.name),
                labels: sample
                    .labels
                    .iter()
                    .map(|l| (l.key.clone(), l.value.clone()))
                    .collect(),
                value: sample.value.value.as_f64(),
            });
        }
    }
    lines
}

/// The one sample of `metric` whose labels include all of `labels`.
fn sample(scrape: &[Line], metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> = scrape
        .iter()
        .filter(|s| s.name == metric)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {} found", found.len());
    found[0].value
}

fn series(scrape: &[Line], metric: &str) -> usize {
    scrape.iter().filter(|s| s.name == metric).count()
}

async fn counters_follow_requests_logins_and_rejections(backend: Backend) {
    let Some(app) = TestApp::start(
        backend,
        &[
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "10000"),
            ("ISMS_RATE_LIMIT_WRITE_PER_MIN", "10000"),
            ("ISMS_RATE_LIMIT_AUTH_PER_MIN", "10000"),
        ],
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let before = scrape(&app).await;
    assert_eq!(
        sample(
            &before,
            "isms_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(
        sample(&before, "rate_limit_backend", &[("backend", "in-process")]),
        1.0
    );
    assert_eq!(
        sample(&before, "rate_limit_backend", &[("backend", "redis")]),
        0.0
    );
    assert!(sample(&before, "db_pool_connections", &[("state", "max")]) >= 1.0);
    // The scrape itself is in flight while it is rendered.
    assert!(sample(&before, "http_requests_in_flight", &[]) >= 1.0);

    // Logins: two failures, one success.
    for _ in 0..2 {
        let res = app.login_raw(ADMIN_EMAIL, "not the password at all").await;
        assert_eq!(res.status(), 401);
    }
    app.admin().await;

    // A thousand distinct ids under one route template, and a thousand
    // unknown paths.
    for _ in 0..1000 {
        let id = uuid::Uuid::now_v7();
        let res = app
            .get_auth(&format!("/api/v1/users/{id}"), &admin.access)
            .await;
        assert_eq!(res.status(), 404);
    }
    let mid = scrape(&app).await;
    for _ in 0..1000 {
        let res = app
            .client
            .get(app.url(&format!("/no/such/{}", uuid::Uuid::now_v7())))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    let after = scrape(&app).await;

    let users_404 = [
        ("method", "GET"),
        ("route", "/api/v1/users/{id}"),
        ("status", "404"),
    ];
    assert_eq!(sample(&after, "http_requests_total", &users_404), 1000.0);
    assert_eq!(
        sample(
            &after,
            "http_requests_total",
            &[("route", "<unmatched>"), ("status", "404")]
        ),
        1000.0
    );
    // Cardinality: the 1,000 unknown paths added one series, not 1,000.
    assert_eq!(
        series(&after, "http_requests_total"),
        series(&mid, "http_requests_total") + 1
    );
    assert_eq!(
        series(&after, "http_request_duration_seconds_count"),
        series(&mid, "http_request_duration_seconds_count") + 1
    );
    assert_eq!(
        sample(
            &after,
            "http_request_duration_seconds_count",
            &[("method", "GET"), ("route", "/api/v1/users/{id}")]
        ),
        1000.0
    );
    let delta = |metric: &str, labels: &[(&str, &str)]| {
        sample(&after, metric, labels) - sample(&before, metric, labels)
    };
    assert_eq!(delta("auth_login_total", &[("outcome", "failure")]), 2.0);
    assert_eq!(delta("auth_login_total", &[("outcome", "success")]), 1.0);
    assert_eq!(
        delta("rate_limit_rejections_total", &[("tier", "read")]),
        0.0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockouts_and_rate_limit_rejections_are_counted() {
    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_RATE_LIMIT_ENABLED", "true"),
            ("ISMS_RATE_LIMIT_READ_PER_MIN", "3"),
            ("ISMS_RATE_LIMIT_AUTH_PER_MIN", "10000"),
            ("ISMS_RATE_LIMIT_WRITE_PER_MIN", "10000"),
        ],
    )
    .await
    else {
        return;
    };
    for _ in 0..5 {
        app.login_raw("nobody@x.example", "not the password at all")
            .await;
    }
    for _ in 0..5 {
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
    }
    let s = scrape(&app).await;
    assert_eq!(sample(&s, "auth_lockouts_total", &[]), 1.0);
    assert_eq!(
        sample(&s, "rate_limit_rejections_total", &[("tier", "read")]),
        2.0
    );
    assert_eq!(
        sample(&s, "rate_limit_rejections_total", &[("tier", "auth")]),
        0.0
    );
    // Scrapes are exempt from the limits they report.
    for _ in 0..5 {
        scrape(&app).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraping_needs_an_allowed_network_or_the_token() {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef-metrics";
    let Some(app) = TestApp::start(
        Backend::Sqlite,
        &[
            ("ISMS_METRICS_ALLOWED_CIDRS", "10.0.0.0/8"),
            ("ISMS_METRICS_TOKEN", TOKEN),
        ],
    )
    .await
    else {
        return;
    };
    let get = |token: Option<&str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let res = get(None).await.unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    assert!(body["request_id"].is_string());
    assert_eq!(get(Some("wrong")).await.unwrap().status(), 403);
    let admin = app.admin().await;
    // An API token is not the metrics token.
    assert_eq!(get(Some(&admin.access)).await.unwrap().status(), 403);
    let res = get(Some(TOKEN)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("http_requests_total"));
    app.stop().await;
}
