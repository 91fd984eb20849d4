#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Errors produced outside handlers' own code (router, panic catcher,
//! timeout) still come back in the JSON error model.

mod common;

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use isms_api::testing::{Captured, TestServer, assert_error};
use isms_api::{HttpConfig, with_middleware};

const PANIC_TEXT: &str = "secret-panic-detail-1234";

async fn panics() -> &'static str {
    panic!("{PANIC_TEXT}");
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "too late"
}

async fn test_server() -> TestServer {
    let cfg = HttpConfig {
        request_timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    };
    let router = Router::new()
        .route("/ok", get(|| async { "fine" }).post(|| async { "posted" }))
        .route("/panic", get(panics))
        .route("/slow", get(slow));
    TestServer::spawn(with_middleware(router, &cfg)).await
}

async fn send(req: reqwest::RequestBuilder) -> Captured {
    Captured::read(req.send().await.unwrap()).await
}

#[tokio::test]
async fn unknown_route_is_404_json() {
    let server = test_server().await;
    let client = common::client();
    for path in ["/nope", "/ok/extra", "/"] {
        assert_error(
            &send(client.get(server.url(path))).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    // The production router's fallback too.
    let real = common::real_server(&HttpConfig::default()).await;
    for path in ["/api/v1/nope", "/api/v2/health", "/api/v1/health/ready/x"] {
        let res = send(client.get(real.server.url(path))).await;
        assert_error(&res, StatusCode::NOT_FOUND, "not_found");
        let res = send(
            client
                .post(real.server.url(path))
                .json(&serde_json::json!({})),
        )
        .await;
        assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn wrong_method_is_405_json_with_allow() {
    let server = test_server().await;
    let client = common::client();
    let res = send(client.delete(server.url("/ok"))).await;
    assert_error(&res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let allow = res.header("allow").unwrap();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );

    let real = common::real_server(&HttpConfig::default()).await;
    for path in ["/api/v1/health", "/api/v1/openapi.json"] {
        let res = send(client.post(real.server.url(path))).await;
        assert_error(&res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(res.header("allow").unwrap().contains("GET"));
    }
}

#[tokio::test]
async fn panic_is_500_json_without_detail_and_server_keeps_serving() {
    let server = test_server().await;
    let client = common::client();
    for i in 0..3 {
        let id = format!("req-{i}");
        let res = send(client.get(server.url("/panic")).header("x-request-id", &id)).await;
        let body = assert_error(&res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
        assert_eq!(body["request_id"], id.as_str());
        assert_eq!(res.request_id(), id);
        assert!(
            !res.text().contains(PANIC_TEXT),
            "panic text leaked: {}",
            res.text()
        );
        assert!(
            !res.text().to_lowercase().contains("panic"),
            "panic mentioned: {}",
            res.text()
        );
        assert!(body.get("details").is_none());

        // The next request, on the same client (and connection pool), works.
        let ok = send(client.get(server.url("/ok"))).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.text(), "fine");
    }
}

#[tokio::test]
async fn slow_handler_is_504_json_timeout() {
    let server = test_server().await;
    let client = common::client();
    let started = std::time::Instant::now();
    let res = send(
        client
            .get(server.url("/slow"))
            .header("x-request-id", "slow-1"),
    )
    .await;
    let body = assert_error(&res, StatusCode::GATEWAY_TIMEOUT, "timeout");
    assert_eq!(body["request_id"], "slow-1");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout did not cut the request short"
    );
    // And the server is fine afterwards.
    assert_eq!(
        send(client.get(server.url("/ok"))).await.status,
        StatusCode::OK
    );
}
