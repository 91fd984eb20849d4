#![allow(clippy::unwrap_used, clippy::expect_used)]
//! CORS: an explicit allow-list; foreign origins get no CORS headers at
//! all; with no origins configured, CORS is off.

mod common;

use axum::http::StatusCode;
use isms_api::HttpConfig;
use isms_api::testing::{Captured, assert_error, assert_security_headers};
use reqwest::Method;

const ALLOWED: &str = "https://app.example";
const EVIL: &str = "https://evil.example";

async fn send(req: reqwest::RequestBuilder) -> Captured {
    Captured::read(req.send().await.unwrap()).await
}

fn cors_headers(res: &Captured) -> Vec<String> {
    res.headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

fn preflight(
    client: &reqwest::Client,
    url: String,
    origin: &str,
    method: &str,
) -> reqwest::RequestBuilder {
    client
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
}

fn with_origins() -> HttpConfig {
    HttpConfig {
        cors_origins: vec![ALLOWED.to_owned()],
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn preflight_from_an_allowed_origin() {
    let real = common::real_server(&with_origins()).await;
    let client = common::client();
    for method in ["GET", "POST", "PATCH", "DELETE"] {
        let res = send(preflight(
            &client,
            real.server.url("/api/v1/health"),
            ALLOWED,
            method,
        ))
        .await;
        assert!(res.status.is_success(), "{method}: {}", res.status);
        assert_eq!(res.header("access-control-allow-origin"), Some(ALLOWED));
        let methods = res.header("access-control-allow-methods").unwrap();
        assert!(methods.contains(method), "{methods}");
        let headers = res
            .header("access-control-allow-headers")
            .unwrap()
            .to_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{headers}"
        );
        for (_, v) in res
            .headers
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("access-control-"))
        {
            assert_ne!(v.to_str().unwrap().trim(), "*", "wildcard in CORS headers");
        }
        // Credentials are never combined with a wildcard; we send neither.
        assert!(res.header("access-control-allow-credentials").is_none());
        assert!(res.request_id().len() > 1);
    }
}

#[tokio::test]
async fn preflight_from_a_foreign_origin_is_refused_without_cors_headers() {
    let real = common::real_server(&with_origins()).await;
    let client = common::client();
    for origin in [
        EVIL,
        "null",
        "https://app.example.evil.example",
        "http://app.example",
        "https://APP.example",
    ] {
        let res = send(preflight(
            &client,
            real.server.url("/api/v1/health"),
            origin,
            "POST",
        ))
        .await;
        assert_error(&res, StatusCode::FORBIDDEN, "cors_origin_not_allowed");
        assert!(
            cors_headers(&res).is_empty(),
            "{origin}: {:?}",
            cors_headers(&res)
        );
    }
    // A preflight without an Origin header is not from an allowed origin.
    let res = send(
        client
            .request(Method::OPTIONS, real.server.url("/api/v1/health"))
            .header("access-control-request-method", "GET"),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(cors_headers(&res).is_empty(), "{:?}", cors_headers(&res));
}

#[tokio::test]
async fn simple_requests() {
    let real = common::real_server(&with_origins()).await;
    let client = common::client();
    let url = real.server.url("/api/v1/health");

    let res = send(client.get(&url).header("origin", ALLOWED)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("access-control-allow-origin"), Some(ALLOWED));
    let exposed = res
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    assert_security_headers(&res.headers);

    // An allowed origin on an error response still gets its CORS header
    // (so the browser lets the app read the JSON error).
    let res = send(
        client
            .get(real.server.url("/api/v1/nope"))
            .header("origin", ALLOWED),
    )
    .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(res.header("access-control-allow-origin"), Some(ALLOWED));

    // A foreign origin, or none: served, but no CORS headers at all.
    let res = send(client.get(&url).header("origin", EVIL)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(cors_headers(&res).is_empty(), "{:?}", cors_headers(&res));
    let res = send(client.get(&url)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(cors_headers(&res).is_empty(), "{:?}", cors_headers(&res));
}

#[tokio::test]
async fn cors_is_off_without_origins() {
    let real = common::real_server(&HttpConfig::default()).await;
    let client = common::client();
    let url = real.server.url("/api/v1/health");
    for origin in [ALLOWED, EVIL] {
        let res = send(client.get(&url).header("origin", origin)).await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(cors_headers(&res).is_empty(), "{:?}", cors_headers(&res));
        let res = send(preflight(&client, url.clone(), origin, "GET")).await;
        assert!(cors_headers(&res).is_empty(), "{:?}", cors_headers(&res));
        // Without CORS, OPTIONS is just a method the route does not have.
        assert_error(&res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}

/// `*` is never honoured, even if it reaches the middleware (the config
/// refuses it first): no panic, no wildcard, other origins still refused.
#[tokio::test]
async fn a_wildcard_origin_is_ignored() {
    let cfg = HttpConfig {
        cors_origins: vec!["*".to_owned(), ALLOWED.to_owned()],
        ..HttpConfig::default()
    };
    let real = common::real_server(&cfg).await;
    let client = common::client();
    let res = send(preflight(
        &client,
        real.server.url("/api/v1/health"),
        ALLOWED,
        "GET",
    ))
    .await;
    assert_eq!(res.header("access-control-allow-origin"), Some(ALLOWED));
    let res = send(preflight(
        &client,
        real.server.url("/api/v1/health"),
        EVIL,
        "GET",
    ))
    .await;
    assert_error(&res, StatusCode::FORBIDDEN, "cors_origin_not_allowed");
    assert!(cors_headers(&res).is_empty());
}
