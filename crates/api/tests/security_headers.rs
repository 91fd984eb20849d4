#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Security headers on every response (success and every kind of error),
//! and the docs page's own strict CSP with its assets served from the
//! binary.

mod common;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use isms_api::extract::Json;
use isms_api::testing::{
    Captured, TestServer, assert_error, assert_security_headers, assert_security_headers_except_csp,
};
use isms_api::{BODY_LIMIT_BYTES, HttpConfig, with_middleware};
use serde_json::{Value, json};

async fn send(req: reqwest::RequestBuilder) -> Captured {
    Captured::read(req.send().await.unwrap()).await
}

#[derive(serde::Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Body {
    #[garde(skip)]
    #[allow(dead_code)]
    x: String,
}

async fn echo(Json(_): Json<Body>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn every_api_response_carries_the_security_headers() {
    let real = common::real_server(&HttpConfig::default()).await;
    let client = common::client();
    let url = |p: &str| real.server.url(p);

    // 200s of the production router.
    for path in [
        "/api/v1/health",
        "/api/v1/health/ready",
        "/api/v1/openapi.json",
    ] {
        let res = send(client.get(url(path))).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_security_headers(&res.headers);
    }
    // 404, 405 (assert_error checks the headers too).
    assert_error(
        &send(client.get(url("/api/v1/nope"))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &send(client.get(url("/docsx"))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &send(client.delete(url("/api/v1/health"))).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    // 503 from readiness.
    real.health.failing();
    assert_error(
        &send(client.get(url("/api/v1/health/ready"))).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    );

    // 200, 413, 415 and 500 on a test router behind the same stack.
    let router = Router::new()
        .route("/echo", post(echo))
        .route("/panic", get(boom));
    let server = TestServer::spawn(with_middleware(router, &HttpConfig::default())).await;
    let res = send(client.post(server.url("/echo")).json(&json!({ "x": "y" }))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_security_headers(&res.headers);
    let big = json!({ "x": "y".repeat(BODY_LIMIT_BYTES) });
    let res = send(client.post(server.url("/echo")).json(&big)).await;
    assert_error(&res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let res = send(client.post(server.url("/echo")).body("x")).await;
    assert_error(
        &res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let res = send(client.get(server.url("/panic"))).await;
    assert_error(&res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
}

/// The CSP directive `name` of `csp`, if present.
fn directive<'a>(csp: &'a str, name: &str) -> Option<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find(|d| d.split_whitespace().next() == Some(name))
}

#[tokio::test]
async fn docs_are_served_from_the_binary_under_a_strict_csp() {
    let real = common::real_server(&HttpConfig::default()).await;
    let client = common::client();

    // /docs redirects to /docs/ (and still carries the headers).
    let res = send(client.get(real.server.url("/docs"))).await;
    assert!(res.status.is_redirection(), "{}", res.status);
    assert_eq!(res.header("location"), Some("/docs/"));
    assert_security_headers_except_csp(&res.headers);

    let page = send(client.get(real.server.url("/docs/"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_security_headers_except_csp(&page.headers);
    let csp = page.header("content-security-policy").unwrap().to_owned();
    assert_eq!(
        directive(&csp, "default-src"),
        Some("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(
        directive(&csp, "frame-ancestors"),
        Some("frame-ancestors 'none'"),
        "{csp}"
    );
    // Scripts only from this origin: no inline, no eval, no other host.
    assert_eq!(
        directive(&csp, "script-src"),
        Some("script-src 'self'"),
        "{csp}"
    );
    assert!(
        directive(&csp, "script-src-elem").is_none()
            && directive(&csp, "script-src-attr").is_none()
    );
    // The UI fetches the spec from this origin.
    assert!(
        directive(&csp, "connect-src").is_some_and(|d| d.contains("'self'")),
        "{csp}"
    );
    for token in csp.split_whitespace() {
        assert!(
            !token.contains("://") && !token.contains('*') && token != "https:" && token != "http:",
            "CSP allows another host: {token} in {csp}"
        );
    }
    assert!(!csp.contains("unsafe-eval"), "{csp}");

    // No inline script with content (the CSP would block it).
    let html = page.text();
    let lower = html.to_lowercase();
    let mut rest = lower.as_str();
    let mut scripts = 0;
    while let Some(start) = rest.find("<script") {
        let tag_end = rest[start..].find('>').unwrap() + start;
        let tag = &rest[start..=tag_end];
        let close = rest[tag_end..].find("</script>").unwrap() + tag_end;
        let content = rest[tag_end + 1..close].trim();
        assert!(tag.contains("src="), "inline <script> without src: {tag}");
        assert!(
            content.is_empty(),
            "inline script content under a script-src 'self' CSP: {content}"
        );
        scripts += 1;
        rest = &rest[close..];
    }
    assert!(scripts >= 2, "the page loads its scripts: {html}");
    // No inline event handlers either.
    assert!(
        !lower.contains(" onload=") && !lower.contains(" onclick="),
        "{html}"
    );
    // Nothing from a CDN.
    assert!(
        !lower.contains("http://") && !lower.contains("https://") && !lower.contains("src=\"//"),
        "{html}"
    );

    // The assets come from the binary, as JavaScript/CSS (nosniff needs the
    // right type), under the docs CSP.
    for (asset, ty) in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui-standalone-preset.js", "javascript"),
        ("swagger-initializer.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("index.css", "text/css"),
    ] {
        let res = send(client.get(real.server.url(&format!("/docs/{asset}")))).await;
        assert_eq!(res.status, StatusCode::OK, "{asset}");
        let ct = res.header("content-type").unwrap();
        assert!(ct.contains(ty), "{asset} served as {ct}");
        assert!(!res.body.is_empty());
        assert_eq!(
            res.header("content-security-policy"),
            Some(csp.as_str()),
            "{asset}"
        );
        assert_security_headers_except_csp(&res.headers);
    }
    // The initializer points the UI at our own spec.
    let init = send(client.get(real.server.url("/docs/swagger-initializer.js")))
        .await
        .text();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
    assert!(!init.contains("petstore"), "{init}");
    // No validator badge calling an external service.
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    assert!(
        !init.contains("://"),
        "the initializer names another host: {init}"
    );

    // An unknown asset is a 404 (JSON, API CSP).
    let res = send(client.get(real.server.url("/docs/nope.js"))).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
