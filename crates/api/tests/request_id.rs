#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `X-Request-ID`: kept when valid, replaced by a UUIDv7 otherwise, on
//! every response and in every error body.

mod common;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::get;
use isms_api::testing::{Captured, TestServer, assert_error};
use isms_api::{HttpConfig, with_middleware};

async fn send(req: reqwest::RequestBuilder) -> Captured {
    Captured::read(req.send().await.unwrap()).await
}

fn assert_generated(id: &str, not: &str) {
    assert_ne!(id, not);
    let uuid =
        uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("generated id is not a UUID: {id}"));
    assert_eq!(
        uuid.get_version_num(),
        7,
        "generated id is not a UUIDv7: {id}"
    );
}

#[tokio::test]
async fn valid_incoming_id_is_echoed_on_success_and_error() {
    let real = common::real_server(&HttpConfig::default()).await;
    let client = common::client();
    let max = "a".repeat(128);
    for id in [
        "abc",
        "A-b_c.9",
        "0",
        max.as_str(),
        "01900000-0000-7000-8000-000000000000",
    ] {
        let res = send(
            client
                .get(real.server.url("/api/v1/health"))
                .header("x-request-id", id),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.request_id(), id);

        let res = send(
            client
                .get(real.server.url("/api/v1/nope"))
                .header("x-request-id", id),
        )
        .await;
        let body = assert_error(&res, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(res.request_id(), id);
        assert_eq!(body["request_id"], id);
    }
}

#[tokio::test]
async fn invalid_incoming_ids_are_replaced_by_a_uuid_v7() {
    let real = common::real_server(&HttpConfig::default()).await;
    let client = common::client();
    let too_long = "a".repeat(129);
    let bad: Vec<HeaderValue> = vec![
        HeaderValue::from_str(&too_long).unwrap(),
        HeaderValue::from_static("has space"),
        HeaderValue::from_static("semi;colon"),
        HeaderValue::from_static("slash/id"),
        HeaderValue::from_static("quote\"id"),
        HeaderValue::from_static(""),
        // Non-ASCII (UTF-8 "äöü" as raw header bytes).
        HeaderValue::from_bytes("äöü".as_bytes()).unwrap(),
    ];
    for value in bad {
        let sent = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let res = send(
            client
                .get(real.server.url("/api/v1/health"))
                .header("x-request-id", value.clone()),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_generated(res.request_id(), &sent);

        let res = send(
            client
                .get(real.server.url("/api/v1/nope"))
                .header("x-request-id", value),
        )
        .await;
        let body = assert_error(&res, StatusCode::NOT_FOUND, "not_found");
        assert_generated(res.request_id(), &sent);
        assert_eq!(body["request_id"], res.request_id());
    }
}

#[tokio::test]
async fn id_is_generated_when_absent_and_unique() {
    let real = common::real_server(&HttpConfig::default()).await;
    let client = common::client();
    let a = send(client.get(real.server.url("/api/v1/health"))).await;
    let b = send(client.get(real.server.url("/api/v1/health"))).await;
    assert_generated(a.request_id(), "");
    assert_generated(b.request_id(), "");
    assert_ne!(a.request_id(), b.request_id());
    // Exactly one X-Request-ID header, even when the client sent one.
    let c = send(
        client
            .get(real.server.url("/api/v1/health"))
            .header("x-request-id", "one"),
    )
    .await;
    assert_eq!(c.headers.get_all("x-request-id").iter().count(), 1);
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn panic_and_timeout_responses_carry_the_id() {
    let cfg = HttpConfig {
        request_timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    };
    let router = Router::new().route("/panic", get(boom)).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "late"
        }),
    );
    let server = TestServer::spawn(with_middleware(router, &cfg)).await;
    let client = common::client();

    let res = send(
        client
            .get(server.url("/panic"))
            .header("x-request-id", "p-1"),
    )
    .await;
    assert_eq!(
        assert_error(&res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error")["request_id"],
        "p-1"
    );
    let res = send(client.get(server.url("/panic"))).await;
    let body = assert_error(&res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert_generated(body["request_id"].as_str().unwrap(), "");

    let res = send(
        client
            .get(server.url("/slow"))
            .header("x-request-id", "t-1"),
    )
    .await;
    assert_eq!(
        assert_error(&res, StatusCode::GATEWAY_TIMEOUT, "timeout")["request_id"],
        "t-1"
    );
    let res = send(client.get(server.url("/slow"))).await;
    let body = assert_error(&res, StatusCode::GATEWAY_TIMEOUT, "timeout");
    assert_generated(body["request_id"].as_str().unwrap(), "");
}
