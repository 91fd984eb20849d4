#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Liveness and readiness against a fake store that answers, fails or
//! hangs.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use isms_api::HttpConfig;
use isms_api::testing::{Captured, assert_error, assert_security_headers};
use serde_json::json;

async fn get(real: &common::RealServer, path: &str) -> Captured {
    Captured::read(
        common::client()
            .get(real.server.url(path))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn liveness() {
    let real = common::real_server(&HttpConfig::default()).await;
    // Liveness does not touch the store.
    real.health.hanging();
    let res = get(&real, "/api/v1/health").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({ "status": "ok" }));
    assert_security_headers(&res.headers);
}

#[tokio::test]
async fn ready_when_the_store_answers() {
    let real = common::real_server(&HttpConfig::default()).await;
    let res = get(&real, "/api/v1/health/ready").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert!(
        body["checks"]["database"]["latency_ms"].is_number(),
        "{body}"
    );
    assert_security_headers(&res.headers);
}

#[tokio::test]
async fn not_ready_when_the_store_fails_and_ready_again_after() {
    let real = common::real_server(&HttpConfig::default()).await;
    real.health.failing();
    let res = get(&real, "/api/v1/health/ready").await;
    let body = assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(
        body["details"]["checks"]["database"]["status"], "unavailable",
        "{body}"
    );
    // No internal detail of the failure reaches the client.
    assert!(!res.text().contains("connection refused"), "{}", res.text());

    real.health.healthy();
    assert_eq!(
        get(&real, "/api/v1/health/ready").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn not_ready_when_the_store_hangs_bounded_by_the_readiness_timeout() {
    let real = common::real_server(&HttpConfig::default()).await;
    real.health.hanging();
    // Bounded: the probe returns long before the (30 s) request timeout;
    // the exact figure is not asserted.
    let res = tokio::time::timeout(Duration::from_secs(5), get(&real, "/api/v1/health/ready"))
        .await
        .expect("readiness hung on a hanging store");
    let body = assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(
        body["details"]["checks"]["database"]["status"], "unavailable",
        "{body}"
    );
    let latency = body["details"]["checks"]["database"]["latency_ms"]
        .as_f64()
        .unwrap();
    assert!(
        latency >= common::READINESS_TIMEOUT.as_millis() as f64 * 0.9,
        "{latency}"
    );
}
