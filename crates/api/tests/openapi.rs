#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The OpenAPI document: valid 3.x, in step with the route table in both
//! directions, with security declared on every operation.

mod common;

use axum::http::StatusCode;
use isms_api::HttpConfig;
use isms_api::error::ApiError;
use isms_api::testing::{Captured, assert_security_headers};
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn fetch_spec(real: &common::RealServer) -> Value {
    let res = Captured::read(
        common::client()
            .get(real.server.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_security_headers(&res.headers);
    res.json()
}

/// Every (path, method) of the spec.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                ops.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn spec_is_openapi_3_with_info_and_paths() {
    let real = common::real_server(&HttpConfig::default()).await;
    let spec = fetch_spec(&real).await;
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        spec["openapi"]
    );
    assert!(spec["info"]["title"].is_string() && spec["info"]["version"].is_string());
    assert!(!spec["paths"].as_object().unwrap().is_empty());
    // The served document is the one `build` returned.
    assert_eq!(spec, serde_json::to_value(&real.spec).unwrap());

    // A 3.1 parser accepts it and sees the same operations.
    let parsed = oas3::from_json(spec.to_string()).unwrap();
    parsed.validate_version().unwrap();
    assert_eq!(parsed.operations().count(), operations(&spec).len());

    // operationIds are unique; every operation has responses.
    let mut ids = std::collections::HashSet::new();
    for (path, method, op) in operations(&spec) {
        if let Some(id) = op["operationId"].as_str() {
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
        }
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no response"
        );
    }
}

#[tokio::test]
async fn every_ref_resolves_within_the_document() {
    let real = common::real_server(&HttpConfig::default()).await;
    let spec = fetch_spec(&real).await;
    fn walk(v: &Value, refs: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    refs.push(r.clone());
                }
                m.values().for_each(|v| walk(v, refs));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&spec, &mut refs);
    assert!(!refs.is_empty(), "expected schema references");
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(
            pointer.starts_with("/components/"),
            "$ref outside components: {r}"
        );
        assert!(spec.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // The shared error body is a component.
    assert!(spec.pointer("/components/schemas/ErrorBody").is_some());
}

#[tokio::test]
async fn route_table_and_spec_agree() {
    let real = common::real_server(&HttpConfig::default()).await;
    let spec = fetch_spec(&real).await;
    let documented: Vec<_> = real.routes.iter().filter(|r| r.documented).collect();
    assert!(!documented.is_empty());

    // Every documented route is in the spec under its path and method.
    for route in &documented {
        let method = route.method.as_str().to_lowercase();
        assert!(
            spec["paths"][&route.path][&method].is_object(),
            "{} {} is routed but not in the spec",
            route.method,
            route.path
        );
    }
    // Every spec operation is a documented route of the table.
    for (path, method, _) in operations(&spec) {
        assert!(
            documented
                .iter()
                .any(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(&method)),
            "{method} {path} is in the spec but not in the route table"
        );
    }
    // Undocumented routes are only the HTML docs.
    for route in real.routes.iter().filter(|r| !r.documented) {
        assert!(
            route.path.starts_with("/docs"),
            "undocumented route {} {}",
            route.method,
            route.path
        );
    }
}

/// Every operation of the spec reaches a handler of the real router (not
/// the fallback 404 nor a 405).
#[tokio::test]
async fn every_spec_operation_is_routed() {
    let real = common::real_server(&HttpConfig::default()).await;
    let spec = fetch_spec(&real).await;
    let client = common::client();
    let fallback = ApiError::from_status(StatusCode::NOT_FOUND).info.message;
    for (path, method, _) in operations(&spec) {
        // Fill each `{param}` with a fresh UUID.
        let mut concrete = String::new();
        let mut rest = path.as_str();
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').unwrap() + start;
            concrete.push_str(&rest[..start]);
            concrete.push_str(&uuid::Uuid::now_v7().to_string());
            rest = &rest[end + 1..];
        }
        concrete.push_str(rest);

        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = client.request(m.clone(), real.server.url(&concrete));
        if matches!(m, Method::POST | Method::PUT | Method::PATCH) {
            req = req.json(&serde_json::json!({}));
        }
        let res = Captured::read(req.send().await.unwrap()).await;
        assert_ne!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: 405"
        );
        if res.status == StatusCode::NOT_FOUND {
            assert_ne!(
                res.json()["message"].as_str(),
                Some(fallback.as_str()),
                "{method} {path} hit the fallback (no such route)"
            );
        }
    }
}

#[tokio::test]
async fn security_is_declared_everywhere() {
    let real = common::real_server(&HttpConfig::default()).await;
    let spec = fetch_spec(&real).await;
    let bearer = &spec["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(
        bearer["scheme"].as_str().map(str::to_lowercase).as_deref(),
        Some("bearer"),
        "{bearer}"
    );

    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    for (path, method, op) in operations(&spec) {
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} declares no security"));
        assert!(
            !security.is_empty(),
            "{method} {path}: empty security list (use [{{}}] for public)"
        );
        for requirement in security {
            // `{}` (public) or named schemes that exist.
            for name in requirement.as_object().unwrap().keys() {
                assert!(
                    schemes.contains_key(name),
                    "{method} {path}: unknown scheme {name}"
                );
            }
        }
    }
    // The probes and the spec itself are public.
    for path in [
        "/api/v1/health",
        "/api/v1/health/ready",
        "/api/v1/openapi.json",
    ] {
        assert_eq!(
            spec["paths"][path]["get"]["security"],
            serde_json::json!([{}]),
            "{path}"
        );
    }
}

/// Every route declares its access in the route table; the public ones are
/// exactly the short list the identity issue names, and the spec's
/// security requirements agree with the table.
#[tokio::test]
async fn every_non_public_route_declares_a_permission() {
    let real = common::real_server(&isms_api::HttpConfig::default()).await;
    let public: std::collections::BTreeSet<(String, String)> = real
        .routes
        .iter()
        .filter(|r| r.access.is_public())
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let expected: std::collections::BTreeSet<(String, String)> = [
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/health/ready"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/mfa/verify"),
        ("GET", "/docs"),
        // Guarded by its own network allow-list or metrics token, not by
        // API credentials.
        ("GET", "/metrics"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(public, expected, "the public route list changed");

    let spec = serde_json::to_value(&real.spec).unwrap();
    for r in real.routes.iter().filter(|r| r.documented) {
        let op = &spec["paths"][&r.path][r.method.as_str().to_lowercase()];
        let secured = op["security"].as_array().is_some_and(|reqs| {
            reqs.iter()
                .any(|req| req.as_object().is_some_and(|o| !o.is_empty()))
        });
        assert_eq!(
            secured,
            !r.access.is_public(),
            "{} {}: spec security disagrees with the route table",
            r.method,
            r.path
        );
        if !r.access.is_public() {
            assert!(r.access.permission.is_some());
        }
    }

    // And a protected route really refuses an anonymous caller.
    let res = common::client()
        .get(real.server.url("/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}
