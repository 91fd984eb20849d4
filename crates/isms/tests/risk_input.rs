//! Bad input on the risk routes over real HTTP, on SQLite and PostgreSQL:
//! every malformed, unknown-field, out-of-range or foreign-reference body
//! gets a 4xx with the error envelope and changes nothing; owners must be
//! users of the caller's tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "risk input password 1";

on_both_backends!(
    bad_risk_input_is_refused_and_changes_nothing,
    owners_must_be_users_of_the_tenant,
);

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

fn asset(name: &str) -> Value {
    json!({
        "name": name,
        "asset_type": "information",
        "classification": "confidential",
        "confidentiality": 3,
        "integrity": 2,
        "availability": 1,
        "business_value": 3,
    })
}

fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut b = base.clone();
    b[field] = value;
    b
}

/// What the tenant's register holds, to prove a refused call wrote nothing.
async fn snapshot(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/assets?limit=100",
        "/api/v1/threats?limit=100",
        "/api/v1/vulnerabilities?limit=100",
        "/api/v1/risks?limit=100",
        "/api/v1/audit/events?limit=1",
    ] {
        out.push(json_of(app.get_auth(path, token).await, 200).await["items"].clone());
    }
    out
}

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &str,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn bad_risk_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let a = json_of(app.post_auth("/api/v1/assets", t, &asset("CRM")).await, 201).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    let th = json_of(
        app.post_auth(
            "/api/v1/threats",
            t,
            &json!({ "name": "Input test threat", "category": "deliberate",
                     "targets": ["confidentiality"], "base_likelihood": "likely" }),
        )
        .await,
        201,
    )
    .await;
    let th_id = th["id"].as_str().unwrap().to_owned();
    let risk = json_of(
        app.post_auth(
            &format!("/api/v1/assets/{a_id}/exposures"),
            t,
            &json!({ "threat_id": th_id }),
        )
        .await,
        201,
    )
    .await;
    let risk_id = risk["id"].as_str().unwrap().to_owned();
    let before = snapshot(&app, t).await;

    let base = asset("ERP");
    let threat = json!({ "name": "T2", "category": "deliberate", "targets": ["integrity"], "base_likelihood": "rare" });
    let vuln = json!({ "name": "V", "severity": "high", "discovered_at": "2026-01-01T00:00:00Z" });
    let treatment =
        json!({ "option": "mitigate", "owner": uuid::Uuid::now_v7(), "planned_controls": ["8.8"] });
    let mut cases: Vec<(reqwest::Method, String, Value)> = Vec::new();
    for (field, value) in [
        ("name", json!("")),
        ("name", json!("x".repeat(1000))),
        ("asset_type", json!("spaceship")),
        ("classification", json!("top_secret")),
        ("confidentiality", json!(0)),
        ("confidentiality", json!(5)),
        ("integrity", json!("high")),
        ("availability", json!(-1)),
        ("tags", json!("not a list")),
        ("colour", json!("red")),
    ] {
        cases.push((
            reqwest::Method::POST,
            "/api/v1/assets".into(),
            with(&base, field, value.clone()),
        ));
        cases.push((
            reqwest::Method::PUT,
            format!("/api/v1/assets/{a_id}"),
            with(&base, field, value),
        ));
    }
    for (field, value) in [
        ("base_likelihood", json!("sometimes")),
        ("category", json!("cosmic")),
        ("targets", json!(["beauty"])),
        ("name", json!("")),
    ] {
        cases.push((
            reqwest::Method::POST,
            "/api/v1/threats".into(),
            with(&threat, field, value),
        ));
    }
    for (field, value) in [
        ("severity", json!("apocalyptic")),
        ("discovered_at", json!("yesterday")),
        ("cve", json!("CVE-NOPE")),
        ("status", json!("forgotten")),
    ] {
        cases.push((
            reqwest::Method::POST,
            "/api/v1/vulnerabilities".into(),
            with(&vuln, field, value),
        ));
    }
    let exposures = format!("/api/v1/assets/{a_id}/exposures");
    cases.push((
        reqwest::Method::POST,
        exposures.clone(),
        json!({ "threat_id": "not-a-uuid" }),
    ));
    cases.push((
        reqwest::Method::POST,
        exposures.clone(),
        json!({ "threat_id": uuid::Uuid::now_v7() }),
    ));
    cases.push((
        reqwest::Method::POST,
        exposures,
        json!({ "threat_id": th_id, "vulnerability_id": uuid::Uuid::now_v7() }),
    ));
    let treat = format!("/api/v1/risks/{risk_id}/treatment");
    for (field, value) in [
        ("option", json!("ignore")),
        ("planned_controls", json!(["9.99"])),
        ("due_date", json!("soon")),
        ("residual", json!({ "impact": 9, "likelihood": 9 })),
        ("owner", json!(uuid::Uuid::now_v7())),
    ] {
        cases.push((
            reqwest::Method::PUT,
            treat.clone(),
            with(&treatment, field, value),
        ));
    }
    for (method, path, body) in &cases {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(t)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let err: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            (400..500).contains(&status) && status != 401 && status != 403,
            "{method} {path} {body}: {status} {err}"
        );
        for key in ["code", "message", "request_id"] {
            assert!(err[key].is_string(), "{method} {path} {body}: {err}");
        }
    }
    // Not JSON at all, and bad ids in the path.
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/assets".to_owned()),
        (reqwest::Method::PUT, format!("/api/v1/assets/{a_id}")),
        (reqwest::Method::PUT, treat.clone()),
    ] {
        let res = raw(&app, method.clone(), &path, t, "{\"name\": ").await;
        assert_eq!(res.status(), 400, "{method} {path}");
    }
    for path in [
        "/api/v1/assets/nope",
        "/api/v1/risks/nope",
        "/api/v1/threats/1",
    ] {
        let status = app.get_auth(path, t).await.status().as_u16();
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    assert_eq!(
        snapshot(&app, t).await,
        before,
        "a refused call changed the register"
    );
    app.stop().await;
}

async fn owners_must_be_users_of_the_tenant(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let mine = app.create_user(t, "owner@x.example", "analyst", PW).await;
    let (_, other) = app
        .other_tenant("risk-owner-other", "boss@ro.example")
        .await;
    let foreign = app
        .create_user(&other.access, "f@ro.example", "viewer", PW)
        .await;

    let res = app
        .post_auth(
            "/api/v1/assets",
            t,
            &with(&asset("CRM"), "owner", json!(foreign)),
        )
        .await;
    let err = json_of(res, 422).await;
    assert!(err.to_string().contains("unknown_user"), "{err}");
    let a = json_of(
        app.post_auth(
            "/api/v1/assets",
            t,
            &with(&asset("CRM"), "owner", json!(mine)),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(a["owner"], mine.as_str());
    let a_id = a["id"].as_str().unwrap();
    let put = |owner: &str| with(&asset("CRM"), "owner", json!(owner));
    let res = app
        .put_auth(&format!("/api/v1/assets/{a_id}"), t, &put(&foreign))
        .await;
    json_of(res, 422).await;

    let th = json_of(
        app.post_auth(
            "/api/v1/threats",
            t,
            &json!({ "name": "Owner test threat", "category": "deliberate",
                     "targets": ["confidentiality"], "base_likelihood": "likely" }),
        )
        .await,
        201,
    )
    .await;
    let risk = json_of(
        app.post_auth(
            &format!("/api/v1/assets/{a_id}/exposures"),
            t,
            &json!({ "threat_id": th["id"] }),
        )
        .await,
        201,
    )
    .await;
    let treat = format!("/api/v1/risks/{}/treatment", risk["id"].as_str().unwrap());
    let plan =
        |owner: &str| json!({ "option": "mitigate", "owner": owner, "planned_controls": ["8.8"] });
    json_of(app.put_auth(&treat, t, &plan(&foreign)).await, 422).await;
    let done = json_of(app.put_auth(&treat, t, &plan(&mine)).await, 200).await;
    assert_eq!(done["owner"], mine.as_str());
    app.stop().await;
}
