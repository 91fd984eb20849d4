//! The Statement of Applicability and signed compliance reports over real
//! HTTP, on SQLite and PostgreSQL: 93 controls with live evidence, paged
//! and as CSV, decisions changed and validated; reports signed with the
//! audit log key (verifying, and failing after one edited byte), built
//! against an audit checkpoint, and rendered as JSON, CSV and a real PDF.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use isms_domain::compliance::{SignedReport, verify_report};
use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "a long enough password 1";
const QUIET: &[(&str, &str)] = &[("ISMS_COMPLIANCE_SCHEDULER_INTERVAL_SECS", "86400")];

on_both_backends!(
    soa_lists_every_control_with_its_evidence,
    soa_decisions_change_and_are_validated,
    reports_are_signed_and_render_as_json_csv_and_pdf,
);

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

async fn text_of(res: reqwest::Response, content_type: &str) -> Vec<u8> {
    assert_eq!(res.status(), 200);
    let ct = res.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with(content_type), "{ct}");
    res.bytes().await.unwrap().to_vec()
}

async fn soa_lists_every_control_with_its_evidence(backend: Backend) {
    let Some(app) = TestApp::start(backend, QUIET).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let all = json_of(
        app.get_auth("/api/v1/compliance/soa?limit=100", t).await,
        200,
    )
    .await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 93);
    assert_eq!(all["next_cursor"], Value::Null);
    let control = |id: &str| {
        items
            .iter()
            .find(|c| c["control_id"] == id)
            .unwrap()
            .clone()
    };
    let c824 = control("8.24");
    assert_eq!(c824["theme"], "technological");
    for field in [
        "title",
        "applicable",
        "justification",
        "status",
        "owner",
        "evidence",
    ] {
        assert!(c824.get(field).is_some(), "{field}");
    }
    let refs = |c: &Value| -> Vec<String> {
        c["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["kind"].as_str().unwrap(),
                    e["ref"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(
        refs(&c824).contains(&"check:encryption_compliance".to_owned()),
        "{c824}"
    );
    assert!(refs(&control("8.15")).contains(&"check:audit_log_integrity".to_owned()));
    assert!(
        refs(&control("8.5"))
            .iter()
            .any(|r| r.starts_with("feature:"))
    );
    assert!(
        refs(&control("7.4")).is_empty(),
        "nothing built in evidences physical monitoring"
    );
    assert_eq!(control("5.1")["theme"], "organizational");

    // Pages of 20 by default, continuing where the last one stopped.
    let first = json_of(app.get_auth("/api/v1/compliance/soa", t).await, 200).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_of(
        app.get_auth(&format!("/api/v1/compliance/soa?cursor={cursor}"), t)
            .await,
        200,
    )
    .await;
    assert_eq!(second["items"][0]["control_id"], items[20]["control_id"]);

    // The whole SoA as CSV.
    let csv = String::from_utf8(
        text_of(
            app.get_auth("/api/v1/compliance/soa?format=csv", t).await,
            "text/csv",
        )
        .await,
    )
    .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 94);
    assert!(lines[0].starts_with("control_id,title,theme,applicable"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("8.24,") && l.contains("check:encryption_compliance"))
    );

    // And as a PDF auditors can file.
    let pdf = text_of(
        app.get_auth("/api/v1/compliance/soa?format=pdf", t).await,
        "application/pdf",
    )
    .await;
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert!(pages.len() >= 2, "93 controls do not fit one page");
    let content = doc.extract_text(&pages).unwrap();
    assert!(content.contains("Statement of Applicability"), "{content}");
    assert!(content.contains("93 controls"), "{content}");
    assert!(content.contains("8.24"), "{content}");

    // A risk treatment that plans a control is evidence for it.
    let created = |res: reqwest::Response| async move {
        json_of(res, 201).await["id"].as_str().unwrap().to_owned()
    };
    let asset = created(
        app.post_auth(
            "/api/v1/assets",
            t,
            &json!({
                "name": "CRM", "asset_type": "information", "classification": "confidential",
                "confidentiality": 4, "integrity": 2, "availability": 1, "business_value": 3,
            }),
        )
        .await,
    )
    .await;
    let threat = created(
        app.post_auth(
            "/api/v1/threats",
            t,
            &json!({
                "name": "SoA evidence threat", "category": "deliberate",
                "targets": ["confidentiality"], "base_likelihood": "possible",
            }),
        )
        .await,
    )
    .await;
    let risk = created(
        app.post_auth(
            &format!("/api/v1/assets/{asset}/exposures"),
            t,
            &json!({ "threat_id": threat }),
        )
        .await,
    )
    .await;
    let me = json_of(app.get_auth("/api/v1/users/me", t).await, 200).await;
    let treatment = json_of(
        app.put_auth(
            &format!("/api/v1/risks/{risk}/treatment"),
            t,
            &json!({
                "option": "mitigate",
                "owner": me["id"],
                "planned_controls": ["8.24", "5.15"],
                "due_date": (chrono::Utc::now() + chrono::Duration::days(30)).date_naive(),
                "residual": { "impact": 2, "likelihood": 2 },
            }),
        )
        .await,
        200,
    )
    .await;
    let all = json_of(
        app.get_auth("/api/v1/compliance/soa?limit=100", t).await,
        200,
    )
    .await;
    let entry = |id: &str| {
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["control_id"] == id)
            .unwrap()
            .clone()
    };
    let link = format!("treatment:{}", treatment["id"].as_str().unwrap());
    assert!(refs(&entry("8.24")).contains(&link), "{}", entry("8.24"));
    assert!(refs(&entry("5.15")).contains(&link));
    assert!(!refs(&entry("7.4")).contains(&link));

    for bad in ["limit=0", "limit=101", "format=xml", "nope=1"] {
        let res = app
            .get_auth(&format!("/api/v1/compliance/soa?{bad}"), t)
            .await;
        assert!(
            res.status() == 422 || res.status() == 400,
            "{bad}: {}",
            res.status()
        );
    }
    let res = app
        .get_auth("/api/v1/compliance/soa?cursor=bm9wZQ", t)
        .await;
    assert_eq!(res.status(), 400);
}

async fn soa_decisions_change_and_are_validated(backend: Backend) {
    let Some(app) = TestApp::start(backend, QUIET).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let owner = app.create_user(t, "owner@x.example", "manager", PW).await;
    app.create_user(t, "sv@x.example", "viewer", PW).await;
    let viewer = app.login("sv@x.example", PW).await;
    let (_, other) = app.other_tenant("soa-other", "boss@soa.example").await;
    let foreign = app
        .create_user(&other.access, "f@soa.example", "viewer", PW)
        .await;

    let path = "/api/v1/compliance/soa/7.1";
    // Not applicable needs a reason.
    let res = app
        .patch_auth(path, t, &json!({ "applicable": false }))
        .await;
    assert_eq!(res.status(), 422);
    // The owner must be one of the tenant's users.
    let res = app.patch_auth(path, t, &json!({ "owner": foreign })).await;
    assert_eq!(res.status(), 422);
    for bad in [json!({ "status": "done" }), json!({ "colour": "red" })] {
        let res = app.patch_auth(path, t, &bad).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    assert_eq!(
        app.patch_auth(
            "/api/v1/compliance/soa/9.9",
            t,
            &json!({ "status": "partial" })
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.patch_auth(path, &viewer.access, &json!({ "status": "partial" }))
            .await
            .status(),
        403
    );
    let before = json_of(
        app.get_auth("/api/v1/compliance/soa?limit=100", t).await,
        200,
    )
    .await;
    assert!(
        before["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["applicable"] == true)
    );

    let changed = json_of(
        app.patch_auth(
            path,
            t,
            &json!({ "applicable": false, "justification": "No premises of our own", "owner": owner }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["applicable"], false);
    assert_eq!(changed["owner"], owner.as_str());
    // Only the given fields change; null clears.
    let changed = json_of(
        app.patch_auth(path, t, &json!({ "status": "implemented", "owner": null }))
            .await,
        200,
    )
    .await;
    assert_eq!(changed["applicable"], false);
    assert_eq!(changed["justification"], "No premises of our own");
    assert_eq!(changed["status"], "implemented");
    assert_eq!(changed["owner"], Value::Null);
    let after = json_of(
        app.get_auth("/api/v1/compliance/soa?limit=100", t).await,
        200,
    )
    .await;
    let row = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control_id"] == "7.1")
        .unwrap()
        .clone();
    assert_eq!(row, changed);
    // Another tenant's SoA is untouched.
    let theirs = json_of(
        app.get_auth("/api/v1/compliance/soa?limit=100", &other.access)
            .await,
        200,
    )
    .await;
    assert!(
        theirs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["applicable"] == true)
    );
    let events = json_of(
        app.get_auth("/api/v1/audit/events?event_type=soa_updated", t)
            .await,
        200,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
}

async fn reports_are_signed_and_render_as_json_csv_and_pdf(backend: Backend) {
    let Some(app) = TestApp::start(backend, QUIET).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    app.create_user(t, "ru@x.example", "auditor", PW).await;
    let auditor = app.login("ru@x.example", PW).await;
    json_of(
        app.post_auth("/api/v1/compliance/run", t, &json!({})).await,
        200,
    )
    .await;
    let status = json_of(app.get_auth("/api/v1/compliance/status", t).await, 200).await;

    assert_eq!(
        app.post_auth("/api/v1/compliance/reports", &auditor.access, &json!({}))
            .await
            .status(),
        403
    );
    let res = app
        .post_auth("/api/v1/compliance/reports", t, &json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let created: Value = res.json().await.unwrap();
    let id = created["report"]["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/compliance/reports/{id}"));
    let report = &created["report"];
    assert_eq!(report["score"], status["score"]);
    assert_eq!(report["overall_status"], status["overall_status"]);
    assert_eq!(report["results"].as_array().unwrap().len(), 9);
    assert!(report["audit_summary"]["integrity_ok"].as_bool().unwrap());
    assert!(report["audit_summary"]["events"].as_u64().unwrap() >= 1);
    assert!(
        report["audit_summary"]["checkpoint"]["tree_size"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(created["checkpoint"], report["audit_summary"]["checkpoint"]);
    assert_eq!(report["risk_summary"]["counts"]["critical"], 0);

    // Stored as signed; an auditor reads it back unchanged.
    let stored = json_of(app.get_auth(&location, &auditor.access).await, 200).await;
    assert_eq!(stored, created);

    // The signature verifies under the published audit log key, and fails
    // after one byte of the report is changed.
    let key = json_of(app.get_auth("/api/v1/audit/log-key", t).await, 200).await;
    let public: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let signed: SignedReport = serde_json::from_value(stored.clone()).unwrap();
    verify_report(&signed, &public).unwrap();
    let text = serde_json::to_string(&stored).unwrap();
    let message = stored["report"]["results"][0]["message"].as_str().unwrap();
    let mut edited = message.to_owned();
    let first = edited.remove(0);
    edited.insert(0, if first == 'X' { 'Y' } else { 'X' });
    let tampered: SignedReport = serde_json::from_str(&text.replacen(message, &edited, 1)).unwrap();
    assert!(verify_report(&tampered, &public).is_err());

    // CSV and PDF renderings.
    let score = format!("{:.1}", status["score"].as_f64().unwrap());
    let csv = String::from_utf8(
        text_of(
            app.get_auth(&format!("{location}?format=csv"), t).await,
            "text/csv",
        )
        .await,
    )
    .unwrap();
    assert!(csv.lines().next().unwrap().starts_with("report_id"));
    assert!(csv.contains(id) && csv.contains(&score), "{csv}");
    let pdf = text_of(
        app.get_auth(&format!("{location}?format=pdf"), t).await,
        "application/pdf",
    )
    .await;
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert!(!pages.is_empty());
    let content = doc.extract_text(&pages).unwrap();
    assert!(content.contains(&format!("Score: {score}")), "{content}");
    assert!(content.contains("Tenant: "), "{content}");
    assert!(content.contains("audit_log_integrity"), "{content}");

    // Bad format; another tenant's report is not found.
    assert_eq!(
        app.get_auth(&format!("{location}?format=doc"), t)
            .await
            .status(),
        422
    );
    let (_, other) = app.other_tenant("report-other", "boss@rep.example").await;
    assert_eq!(app.get_auth(&location, &other.access).await.status(), 404);
    let events = json_of(
        app.get_auth("/api/v1/audit/events?event_type=report_generated", t)
            .await,
        200,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
}
