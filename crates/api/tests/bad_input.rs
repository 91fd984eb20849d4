#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The bad-input table and the strict extractors, on a test router behind
//! exactly the production middleware stack.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use isms_api::extract::{Json, Path, Query};
use isms_api::testing::{
    BadInputTable, Captured, TestServer, assert_bad_input_table, assert_error, assert_field_named,
};
use isms_api::{BODY_LIMIT_BYTES, HttpConfig, with_middleware};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct CreateThing {
    #[garde(length(chars, min = 1, max = 50))]
    name: String,
    #[garde(dive)]
    nested: Nested,
    #[serde(default)]
    #[garde(skip)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct Nested {
    #[garde(range(min = 1, max = 10))]
    count: u32,
    #[garde(skip)]
    flag: bool,
}

#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[garde(inner(range(min = 1, max = 100)))]
    limit: Option<u32>,
}

type Calls = Arc<AtomicUsize>;

async fn create(
    State(calls): State<Calls>,
    Json(thing): Json<CreateThing>,
) -> (StatusCode, Json<Value>) {
    calls.fetch_add(1, Ordering::SeqCst);
    let body = json!({ "name": thing.name, "count": thing.nested.count, "flag": thing.nested.flag, "tags": thing.tags.len() });
    (StatusCode::CREATED, Json(body))
}

async fn get_thing(Path(id): Path<uuid::Uuid>) -> Json<Value> {
    Json(json!({ "id": id }))
}

async fn list(Query(q): Query<ListQuery>) -> Json<Value> {
    Json(json!({ "limit": q.limit }))
}

fn valid_body() -> Value {
    json!({ "name": "server room", "nested": { "count": 3, "flag": true }, "tags": ["a"] })
}

async fn test_server() -> (TestServer, Calls) {
    let calls = Calls::default();
    let router = Router::new()
        .route("/things", post(create).get(list))
        .route("/things/{id}", get(get_thing))
        .with_state(calls.clone());
    let server = TestServer::spawn(with_middleware(router, &HttpConfig::default())).await;
    (server, calls)
}

async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> Captured {
    Captured::read(client.post(url).json(body).send().await.unwrap()).await
}

#[tokio::test]
async fn bad_input_table_runs_no_handler_and_valid_input_runs_it_once() {
    let (server, calls) = test_server().await;
    let client = common::client();
    let url = server.url("/things");

    let counter = calls.clone();
    BadInputTable::new(&client, Method::POST, &url, &[], valid_body())
        .after_each(move || {
            let n = counter.load(Ordering::SeqCst) as u64;
            async move { n }
        })
        .run()
        .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran for a bad input"
    );

    // The one-call form, with a caller header that must not leak into the
    // content-type cases.
    assert_bad_input_table(
        &client,
        Method::POST,
        &url,
        &[("content-type", "application/json")],
        valid_body(),
    )
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran for a bad input"
    );

    let res = post_json(&client, &url, &valid_body()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    assert_eq!(res.json()["name"], "server room");
    isms_api::testing::assert_security_headers(&res.headers);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // JSON media types with parameters or a +json suffix are JSON.
    for ct in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let res = client
            .post(&url)
            .header("content-type", ct)
            .body(valid_body().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "content type {ct}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn per_field_details_name_the_field_path() {
    let (server, calls) = test_server().await;
    let client = common::client();
    let url = server.url("/things");

    let cases = [
        // garde rule violations
        (
            json!({ "name": "", "nested": { "count": 3, "flag": true } }),
            "name",
        ),
        (
            json!({ "name": "x".repeat(51), "nested": { "count": 3, "flag": true } }),
            "name",
        ),
        (
            json!({ "name": "ok", "nested": { "count": 0, "flag": true } }),
            "nested.count",
        ),
        // wrong types below the top level
        (
            json!({ "name": "ok", "nested": { "count": "three", "flag": true } }),
            "nested.count",
        ),
        (
            json!({ "name": "ok", "nested": { "count": 3, "flag": "yes" } }),
            "nested.flag",
        ),
        (
            json!({ "name": "ok", "nested": { "count": 3, "flag": true }, "tags": ["a", 7] }),
            "tags[1]",
        ),
        (
            json!({ "name": "ok", "nested": { "count": -1, "flag": true } }),
            "nested.count",
        ),
        // missing required fields
        (json!({ "name": "ok" }), "nested"),
        (
            json!({ "name": "ok", "nested": { "flag": true } }),
            "nested.count",
        ),
    ];
    for (body, path) in cases {
        let res = post_json(&client, &url, &body).await;
        let err = assert_error(&res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_field_named(&err, path);
    }

    // Unknown fields are refused at every depth (no mass assignment).
    let body = json!({ "name": "ok", "nested": { "count": 3, "flag": true, "is_admin": true } });
    let err = assert_error(
        &post_json(&client, &url, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_field_named(&err, "nested.is_admin");
    assert_eq!(
        err["details"]["fields"][0]["code"], "unknown_field",
        "{err}"
    );
    let err = assert_error(
        &post_json(&client, &url, &json!({ "name": "ok" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(err["details"]["fields"][0]["field"], "nested", "{err}");
    assert_eq!(err["details"]["fields"][0]["code"], "required", "{err}");

    // Several rule violations are reported together, 51 characters counted
    // as characters (not bytes): 50 'ä' pass.
    let body = json!({ "name": "", "nested": { "count": 11, "flag": true } });
    let err = assert_error(
        &post_json(&client, &url, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_field_named(&err, "name");
    assert_field_named(&err, "nested.count");
    let body = json!({ "name": "ä".repeat(50), "nested": { "count": 10, "flag": false } });
    assert_eq!(
        post_json(&client, &url, &body).await.status,
        StatusCode::CREATED
    );

    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the last body was valid"
    );
}

/// A body of exactly 64 KiB is accepted; one byte more is 413.
#[tokio::test]
async fn body_limit_boundary() {
    let (server, calls) = test_server().await;
    let client = common::client();
    let url = server.url("/things");
    let sized = |len: usize| {
        let mut body = valid_body();
        // The valid body already holds one character of tag.
        let overhead = body.to_string().len() - 1;
        body["tags"] = json!(["a".repeat(len - overhead)]);
        let text = body.to_string();
        assert_eq!(text.len(), len);
        text
    };
    let send = |body: String| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let res = send(sized(BODY_LIMIT_BYTES)).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = Captured::read(send(sized(BODY_LIMIT_BYTES + 1)).await.unwrap()).await;
    assert_error(&res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Without a Content-Length (chunked), the limit is enforced while
/// reading: still 413 JSON and the handler never runs.
#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    let (server, calls) = test_server().await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /things HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Request-ID: chunked-1\r\nConnection: close\r\n\r\n",
        server.addr
    );
    // Exactly one byte over the limit, in chunks, written while the
    // response is read (the server may answer before the body ends).
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = "a".repeat(16 * 1024);
        for _ in 0..BODY_LIMIT_BYTES / chunk.len() {
            writer
                .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
                .await?;
        }
        writer.write_all(b"1\r\na\r\n0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the connection closes (or resets after the response).
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    let _ = writing.await;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response: {response:?}"));
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-request-id: chunked-1"),
        "{head}"
    );
    // The body may itself be chunked; find the JSON object in it.
    let json_start = body.find('{').unwrap();
    let json_end = body.rfind('}').unwrap();
    let err: Value = serde_json::from_str(&body[json_start..=json_end]).unwrap();
    assert_eq!(err["code"], "payload_too_large");
    assert_eq!(err["request_id"], "chunked-1");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_path_parameter_is_400_never_500() {
    let (server, _) = test_server().await;
    let client = common::client();
    for bad in [
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-00000000000g",
        "%FF%FE",
    ] {
        let res = Captured::read(
            client
                .get(server.url(&format!("/things/{bad}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&res, StatusCode::BAD_REQUEST, "invalid_path");
    }
    let id = uuid::Uuid::now_v7();
    let res = Captured::read(
        client
            .get(server.url(&format!("/things/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["id"], id.to_string());
}

#[tokio::test]
async fn bad_query_parameters() {
    let (server, _) = test_server().await;
    let client = common::client();
    let get = |q: &str| {
        let url = server.url(&format!("/things{q}"));
        let client = client.clone();
        async move { Captured::read(client.get(url).send().await.unwrap()).await }
    };
    // Unparseable value or unknown parameter: 400 invalid_query.
    assert_error(
        &get("?limit=abc").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    assert_error(
        &get("?limit=-1").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    assert_error(
        &get("?limit=5&admin=1").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    // Parseable but against a rule: 422 naming the parameter.
    let err = assert_error(
        &get("?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_field_named(&err, "limit");
    let err = assert_error(
        &get("?limit=101").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_field_named(&err, "limit");
    // Valid.
    let res = get("?limit=5").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["limit"], 5);
    assert_eq!(get("").await.json()["limit"], Value::Null);
}

/// A request type without `deny_unknown_fields` (a slip in a later route)
/// still rejects unknown fields: the extractor tracks ignored keys itself.
#[derive(Debug, Deserialize, garde::Validate)]
struct Lenient {
    #[garde(skip)]
    name: String,
    #[serde(default)]
    #[garde(skip)]
    inner: Option<LenientInner>,
}

#[derive(Debug, Deserialize, garde::Validate)]
struct LenientInner {
    #[garde(skip)]
    note: String,
}

#[tokio::test]
async fn unknown_fields_rejected_even_without_deny_unknown_fields() {
    let calls = Calls::default();
    let router = Router::new()
        .route(
            "/lenient",
            post(
                |State(calls): State<Calls>, Json(body): Json<Lenient>| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Json(json!({ "name": body.name, "note": body.inner.map(|i| i.note) }))
                },
            ),
        )
        .with_state(calls.clone());
    let server = TestServer::spawn(with_middleware(router, &HttpConfig::default())).await;
    let client = common::client();
    let url = server.url("/lenient");

    let res = post_json(&client, &url, &json!({ "name": "x", "role": "admin" })).await;
    assert_error(&res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_field_named(&res.json(), "role");
    let res = post_json(
        &client,
        &url,
        &json!({ "name": "x", "inner": { "note": "n", "is_admin": true } }),
    )
    .await;
    assert_error(&res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_field_named(&res.json(), "inner.is_admin");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let res = post_json(
        &client,
        &url,
        &json!({ "name": "x", "inner": { "note": "n" } }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
