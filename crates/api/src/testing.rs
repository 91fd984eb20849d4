//! Test support (cargo feature `testing`): a server on `127.0.0.1:0`, the
//! error-shape and security-header assertions, and the bad-input table that
//! every JSON route must pass.
//!
//! Typical use from a black-box test of a JSON route:
//!
//! ```ignore
//! let before = count_rows().await;
//! testing::assert_bad_input_table(&client, Method::POST, &server.url("/api/v1/things"),
//!     &[("authorization", &bearer)], json!({"name": "ok"})).await;
//! assert_eq!(count_rows().await, before, "a bad input wrote something");
//! ```
//!
//! **Nothing written.** The table never sends the valid body itself (only
//! variants of it that must be refused), so "nothing written" is checked
//! by the caller comparing its own count before and after the table, as
//! above. To find *which* case wrote, use [`BadInputTable::after_each`]
//! with an async count closure: it is called after every case and must
//! return the same number each time.
//!
//! The assertions panic with the case name, status and body on failure.

use std::future::Future;
use std::pin::Pin;

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use crate::BODY_LIMIT_BYTES;

/// The field name the table injects to prove unknown fields are refused.
pub const UNKNOWN_FIELD: &str = "__isms_unknown_field";

/// The exact security headers every API (non-HTML) response carries.
pub const API_SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// Powerful features `Permissions-Policy` must deny (each `feature=()`).
pub const DENIED_FEATURES: &[&str] = &["camera", "microphone", "geolocation", "payment", "usb"];

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// A router served on `127.0.0.1:0` in a background task; stopped on drop.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `router` (use [`crate::build`] or [`crate::with_middleware`]
    /// so the production middleware is in front of it).
    pub async fn spawn(router: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                panic!("test server failed: {e}");
            }
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response read to the end, so assertions can look at it more than once.
#[derive(Debug)]
pub struct Captured {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Captured {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let body = res
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("reading response body: {e}"))
            .to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (showing the body) if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}); status {}: {}",
                self.status,
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn request_id(&self) -> &str {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-ID on a {} response", self.status))
    }
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

/// Checks the security headers of an API response: the exact values of
/// [`API_SECURITY_HEADERS`] (including the API `Content-Security-Policy`),
/// a `Permissions-Policy` that denies [`DENIED_FEATURES`], and no `Server`
/// or `X-Powered-By`.
pub fn assert_security_headers(headers: &HeaderMap) {
    assert_security_headers_except_csp(headers);
    assert_eq!(
        header(headers, "content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'"),
        "Content-Security-Policy"
    );
}

/// As [`assert_security_headers`] but without the CSP, for HTML pages (the
/// docs) that carry their own policy.
pub fn assert_security_headers_except_csp(headers: &HeaderMap) {
    for (name, value) in API_SECURITY_HEADERS {
        if *name == "content-security-policy" {
            continue;
        }
        assert_eq!(header(headers, name), Some(*value), "header {name}");
        assert_eq!(
            headers.get_all(*name).iter().count(),
            1,
            "header {name} sent more than once"
        );
    }
    let policy = header(headers, "permissions-policy")
        .unwrap_or_else(|| panic!("no Permissions-Policy header"));
    for feature in DENIED_FEATURES {
        assert!(
            policy
                .split(',')
                .any(|d| d.trim() == format!("{feature}=()")),
            "Permissions-Policy does not deny {feature}: {policy}"
        );
    }
    assert!(headers.get("server").is_none(), "Server header disclosed");
    assert!(
        headers.get("x-powered-by").is_none(),
        "X-Powered-By header disclosed"
    );
}

/// Checks an error response: `expected_status`, `Content-Type:
/// application/json`, a body `{"code","message","request_id","details"?}`
/// with `code == expected_code`, a non-empty message, `request_id` equal to
/// the `X-Request-ID` header, no other top-level keys, and the API security
/// headers. Returns the parsed body.
pub fn assert_error_shape(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected_status: StatusCode,
    expected_code: &str,
) -> Value {
    let text = String::from_utf8_lossy(body);
    assert_eq!(
        status, expected_status,
        "status (expected code {expected_code}); body: {text}"
    );
    let ct = header(headers, "content-type").unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "error content type is {ct:?}; body: {text}"
    );
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text}"));
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {text}"));
    assert_eq!(
        obj.get("code").and_then(Value::as_str),
        Some(expected_code),
        "code; body: {text}"
    );
    assert!(
        obj.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "message missing or empty: {text}"
    );
    let header_id =
        header(headers, "x-request-id").unwrap_or_else(|| panic!("no X-Request-ID header"));
    assert_eq!(
        obj.get("request_id").and_then(Value::as_str),
        Some(header_id),
        "request_id must equal the X-Request-ID header; body: {text}"
    );
    for key in obj.keys() {
        assert!(
            matches!(key.as_str(), "code" | "message" | "request_id" | "details"),
            "unexpected key {key:?} in error body: {text}"
        );
    }
    if let Some(details) = obj.get("details") {
        assert!(details.is_object(), "details must be an object: {text}");
    }
    assert_security_headers(headers);
    value
}

/// [`assert_error_shape`] on a [`Captured`] response.
pub fn assert_error(res: &Captured, expected_status: StatusCode, expected_code: &str) -> Value {
    assert_error_shape(
        res.status,
        &res.headers,
        &res.body,
        expected_status,
        expected_code,
    )
}

/// The `details.fields` array of a `validation_failed` body, each entry
/// checked to be `{"field": string, "code": string, "message": string}`.
pub fn validation_fields(body: &Value) -> Vec<Value> {
    let fields = body
        .pointer("/details/fields")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("validation error without details.fields: {body}"));
    assert!(!fields.is_empty(), "details.fields is empty: {body}");
    for f in fields {
        for key in ["field", "code", "message"] {
            assert!(
                f.get(key).is_some_and(Value::is_string),
                "field entry without string {key}: {f}"
            );
        }
    }
    fields.clone()
}

/// Asserts one of the `details.fields` entries names `path` (exactly, or a
/// path below it such as `path.sub` or `path[0]`).
pub fn assert_field_named(body: &Value, path: &str) {
    let fields = validation_fields(body);
    assert!(
        fields.iter().any(|f| {
            let name = f.get("field").and_then(Value::as_str).unwrap_or("");
            name == path
                || name.starts_with(&format!("{path}."))
                || name.starts_with(&format!("{path}["))
        }),
        "no details.fields entry names {path:?}: {body}"
    );
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------------------
// The bad-input table
// ---------------------------------------------------------------------------

type CountFn<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync + 'a>;

/// What a case expects back.
#[derive(Debug, Clone)]
enum Expect {
    /// Status and code only.
    Code(StatusCode, &'static str),
    /// 422 `validation_failed` whose `details.fields` names this path.
    Field(String),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    expect: Expect,
}

/// The bad-input table for one JSON route. [`assert_bad_input_table`] is
/// the one-call form; the builder lets a route opt out of the wrong-type
/// case for fields that accept any JSON type, or count writes after each
/// case.
///
/// Cases (each sent with the caller's headers, a fresh `X-Request-ID`, and
/// checked with [`assert_error_shape`], so the error shape, request-id echo
/// and security headers hold for every one):
/// - malformed JSON (truncated body, garbage, trailing comma, trailing
///   data, empty body) → 400 `invalid_json`;
/// - an unknown top-level field → 422 `validation_failed` whose
///   `details.fields` names it;
/// - a duplicated field → 422 naming it;
/// - for each top-level field, a value of the wrong JSON type → 422 naming
///   that field;
/// - a body that is not an object (`[]`, `"x"`, `42`, `null`) → 422;
/// - a body over 64 KiB → 413 `payload_too_large`;
/// - `text/plain`, `application/x-www-form-urlencoded`, `application/xml`
///   or no content type (valid JSON body) → 415 `unsupported_media_type`.
pub struct BadInputTable<'a> {
    client: &'a reqwest::Client,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    valid_body: Value,
    any_type_fields: Vec<String>,
    after_each: Option<CountFn<'a>>,
}

impl<'a> BadInputTable<'a> {
    /// `valid_body` must be a JSON object the route would accept; the table
    /// derives every bad variant from it (and never sends it as is).
    pub fn new(
        client: &'a reqwest::Client,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        valid_body: Value,
    ) -> Self {
        Self {
            client,
            method,
            url: url.to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            valid_body,
            any_type_fields: Vec::new(),
            after_each: None,
        }
    }

    /// Skips the wrong-type case for a field that legitimately accepts
    /// several JSON types (e.g. a free-form `serde_json::Value`).
    pub fn any_type_field(mut self, field: &str) -> Self {
        self.any_type_fields.push(field.to_owned());
        self
    }

    /// Calls `count` before the table and after every case and asserts it
    /// never changes (e.g. rows in the route's table, or handler calls).
    pub fn after_each<F, Fut>(mut self, count: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = u64> + Send + 'static,
    {
        self.after_each = Some(Box::new(move || Box::pin(count())));
        self
    }

    fn cases(&self) -> Vec<Case> {
        let obj: &Map<String, Value> = self
            .valid_body
            .as_object()
            .unwrap_or_else(|| panic!("the valid body must be a JSON object: {}", self.valid_body));
        let valid = self.valid_body.to_string();
        let json = Some("application/json");
        let mut cases = Vec::new();
        let mut push = |name: &str, content_type, body: Vec<u8>, expect| {
            cases.push(Case {
                name: name.to_owned(),
                content_type,
                body,
                expect,
            });
        };
        let bad_json = Expect::Code(StatusCode::BAD_REQUEST, "invalid_json");
        let invalid = Expect::Code(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let media = Expect::Code(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

        // Malformed JSON.
        let truncated = valid.as_bytes()[..valid.len() - 1].to_vec();
        push("malformed: truncated", json, truncated, bad_json.clone());
        push(
            "malformed: garbage",
            json,
            b"{not json".to_vec(),
            bad_json.clone(),
        );
        let inner = &valid[1..valid.len() - 1];
        let sep = if inner.is_empty() { "" } else { "," };
        push(
            "malformed: trailing comma",
            json,
            format!("{{{inner}{sep}}}").into_bytes(),
            bad_json.clone(),
        );
        push(
            "malformed: trailing data",
            json,
            format!("{valid} x").into_bytes(),
            bad_json.clone(),
        );
        push("malformed: empty body", json, Vec::new(), bad_json);

        // Unknown and duplicated fields (mass assignment).
        let mut extra = obj.clone();
        extra.insert(UNKNOWN_FIELD.to_owned(), json!(true));
        push(
            "unknown field",
            json,
            Value::Object(extra).to_string().into_bytes(),
            Expect::Field(UNKNOWN_FIELD.to_owned()),
        );
        if let Some((key, value)) = obj.iter().next() {
            let dup = format!("{{{}:{value},{inner}}}", Value::String(key.clone()));
            push(
                "duplicated field",
                json,
                dup.into_bytes(),
                Expect::Field(key.clone()),
            );
        }

        // Wrong JSON type per top-level field.
        for (key, value) in obj {
            if self.any_type_fields.contains(key) {
                continue;
            }
            let mut wrong = obj.clone();
            wrong.insert(key.clone(), wrong_type(value));
            push(
                &format!("wrong type: {key}"),
                json,
                Value::Object(wrong).to_string().into_bytes(),
                Expect::Field(key.clone()),
            );
        }

        // Valid JSON that is not an object.
        for body in ["[]", "\"text\"", "42", "null"] {
            push(
                &format!("not an object: {body}"),
                json,
                body.as_bytes().to_vec(),
                invalid.clone(),
            );
        }

        // Too large: the valid body padded past the limit.
        let mut padded = obj.clone();
        padded.insert("__pad".to_owned(), json!("a".repeat(BODY_LIMIT_BYTES)));
        push(
            "body over 64 KiB",
            json,
            Value::Object(padded).to_string().into_bytes(),
            Expect::Code(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        );

        // Wrong or missing media type, with a valid JSON body.
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/xml",
        ] {
            push(
                &format!("content type {ct}"),
                Some(ct),
                valid.clone().into_bytes(),
                media.clone(),
            );
        }
        push("no content type", None, valid.into_bytes(), media);
        cases
    }

    /// Runs every case; panics on the first one that fails.
    pub async fn run(self) {
        let baseline = match &self.after_each {
            Some(count) => Some(count().await),
            None => None,
        };
        for (i, case) in self.cases().into_iter().enumerate() {
            let request_id = format!("bad-input-{i}");
            let mut req = self.client.request(self.method.clone(), &self.url);
            for (k, v) in &self.headers {
                // The case decides the content type (or its absence).
                if !k.eq_ignore_ascii_case("content-type") {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            req = req.header("x-request-id", &request_id);
            if let Some(ct) = case.content_type {
                req = req.header(CONTENT_TYPE, ct);
            }
            let res = req
                .body(case.body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("[{}] request failed: {e}", case.name));
            let res = Captured::read(res).await;
            let (status, code) = match &case.expect {
                Expect::Code(status, code) => (*status, *code),
                Expect::Field(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            };
            // Shown with the test's output if an assertion below fails.
            eprintln!(
                "bad-input case [{}] {} {} -> {}",
                case.name, self.method, self.url, res.status
            );
            let body = assert_error(&res, status, code);
            assert_eq!(
                res.request_id(),
                request_id,
                "[{}] X-Request-ID not echoed",
                case.name
            );
            match &case.expect {
                Expect::Field(path) => assert_field_named(&body, path),
                Expect::Code(StatusCode::UNPROCESSABLE_ENTITY, _) => {
                    validation_fields(&body);
                }
                Expect::Code(..) => {}
            }
            if let (Some(count), Some(before)) = (&self.after_each, baseline) {
                assert_eq!(
                    count().await,
                    before,
                    "[{}] the request wrote something",
                    case.name
                );
            }
        }
    }
}

/// A value of another JSON type than `value`.
fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) | Value::Bool(_) => json!(12345),
        Value::Number(_) | Value::Array(_) | Value::Object(_) => json!("wrong-type"),
        Value::Null => json!({ "wrong": "type" }),
    }
}

/// Runs the whole [`BadInputTable`] for one route. Headers (e.g.
/// `authorization`) go on every request; a `content-type` among them is
/// ignored, the cases set their own.
pub async fn assert_bad_input_table(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    valid_body: Value,
) {
    BadInputTable::new(client, method, url, headers, valid_body)
        .run()
        .await;
}
