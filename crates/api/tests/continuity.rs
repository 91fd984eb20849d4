#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Readiness with Redis configured (router level, fake dependencies):
//! degraded-but-ready while Redis fails, bounded when Redis hangs, ok when
//! it answers; and trace headers echoed only when valid.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use isms_api::HttpConfig;
use isms_api::testing::Captured;
use isms_domain::continuity::{CounterError, RedisProbe};

const UP: u8 = 0;
const DOWN: u8 = 1;
const HANGING: u8 = 2;

#[derive(Default)]
struct FakeRedis(AtomicU8);

#[async_trait]
impl RedisProbe for FakeRedis {
    fn configured(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), CounterError> {
        match self.0.load(Ordering::SeqCst) {
            UP => Ok(()),
            DOWN => Err(CounterError::Unavailable("refused (fake)".into())),
            _ => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        }
    }
}

async fn server(redis: Arc<FakeRedis>) -> common::RealServer {
    common::real_server_with(&HttpConfig::default(), move |audit| {
        isms_app::continuity::ContinuityService::new(
            isms_app::continuity::ContinuitySettings::default(),
            isms_app::continuity::ContinuityDeps {
                budget: Arc::new(isms_infra::budget::MemoryBudget::new()),
                redis: Some(redis),
                audit: audit.clone(),
                dedupe: Arc::new(isms_infra::limiter::MemoryLimiter::new()),
                keys: Arc::new(isms_app::continuity::NoKeys),
                logs: Arc::new(isms_app::continuity::NoLogStats),
            },
        )
    })
    .await
}

async fn ready(real: &common::RealServer) -> Captured {
    Captured::read(
        common::client()
            .get(real.server.url("/api/v1/health/ready"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn redis_state_shows_in_readiness_without_failing_it() {
    let redis = Arc::new(FakeRedis::default());
    let real = server(redis.clone()).await;
    let res = ready(&real).await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "ok");

    redis.0.store(DOWN, Ordering::SeqCst);
    let body = ready(&real).await.json();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "degraded");
    assert_eq!(body["checks"]["database"]["status"], "ok");

    // A hung Redis is bounded by the readiness timeout too.
    redis.0.store(HANGING, Ordering::SeqCst);
    let res = tokio::time::timeout(Duration::from_secs(5), ready(&real))
        .await
        .expect("readiness hung on a hanging Redis");
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body["checks"]["redis"]["status"], "degraded");
    assert!(
        body["checks"]["redis"]["latency_ms"].as_f64().unwrap()
            >= common::READINESS_TIMEOUT.as_millis() as f64 * 0.9
    );

    // The database still decides 503.
    real.health.failing();
    assert_eq!(ready(&real).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn trace_headers_are_echoed_only_when_valid() {
    let real = common::real_server(&HttpConfig::default()).await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let amzn = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let res = Captured::read(
        common::client()
            .get(real.server.url("/no/such"))
            .header("traceparent", tp)
            .header("x-amzn-trace-id", amzn)
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Echoed on error responses as well.
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.header("traceparent"), Some(tp));
    assert_eq!(res.header("x-amzn-trace-id"), Some(amzn));
    let res = Captured::read(
        common::client()
            .get(real.server.url("/api/v1/health"))
            .header(
                "traceparent",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .header("x-amzn-trace-id", "Root=1-xyz")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("traceparent"), None);
    assert_eq!(res.header("x-amzn-trace-id"), None);
}
