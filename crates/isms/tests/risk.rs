#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Risk management over HTTP against the real server, on SQLite and on
//! PostgreSQL: inventory CRUD with filters and pages, tenant isolation,
//! the permission matrix, the pinned engine case, assessment history and
//! runs, the approval workflow with step-up, heat map and CSV export, and
//! the audit trail of it all.

mod support;

use serde_json::{Value, json};
use support::{Backend, TestApp};

on_both_backends!(
    inventory_crud_filters_pages_and_isolation,
    pinned_case_history_and_due_runs,
    approvals_follow_the_level_with_step_up_for_critical,
    register_heatmap_and_csv_export_agree,
);

const PW: &str = "risk suite password 1";

impl TestApp {
    async fn json_ok(&self, res: reqwest::Response, status: u16) -> Value {
        let got = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(got, status, "{body}");
        body
    }

    /// A user of the admin's tenant with `role`, logged in.
    async fn member(&self, admin: &str, email: &str, role: &str) -> (String, String) {
        let id = self.create_user(admin, email, role, PW).await;
        (id, self.login(email, PW).await.access)
    }

    async fn audit_count(&self, admin: &str, event_type: &str) -> usize {
        let res = self
            .get_auth(
                &format!("/api/v1/audit/events?event_type={event_type}&limit=100"),
                admin,
            )
            .await;
        let body = self.json_ok(res, 200).await;
        body["items"].as_array().unwrap().len()
    }
}

fn asset(name: &str, confidentiality: u8) -> Value {
    json!({
        "name": name,
        "description": format!("notes on {name}"),
        "asset_type": "information",
        "classification": "confidential",
        "confidentiality": confidentiality,
        "integrity": 2,
        "availability": 1,
        "business_value": 3,
        "tags": ["crm"],
    })
}

fn threat(name: &str, likelihood: &str) -> Value {
    json!({
        "name": name,
        "category": "deliberate",
        "targets": ["confidentiality"],
        "base_likelihood": likelihood,
    })
}

fn vulnerability(name: &str) -> Value {
    json!({
        "name": name,
        "severity": "high",
        "discovered_at": (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339(),
    })
}

async fn create(app: &TestApp, token: &str, path: &str, body: &Value) -> String {
    let res = app.post_auth(path, token, body).await;
    assert!(res.headers().get("location").is_some());
    let body = app.json_ok(res, 201).await;
    body["id"].as_str().unwrap().to_owned()
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn inventory_crud_filters_pages_and_isolation(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await.access;
    let (_, analyst) = app.member(&admin, "ana@x.example", "analyst").await;
    let (_, viewer) = app.member(&admin, "vic@x.example", "viewer").await;

    let crm = create(&app, &analyst, "/api/v1/assets", &asset("CRM database", 3)).await;
    let mut tapes = asset("Backup tapes", 2);
    tapes["asset_type"] = json!("hardware");
    tapes["tags"] = json!(["Offsite Storage"]);
    let tapes = create(&app, &analyst, "/api/v1/assets", &tapes).await;
    let web = create(&app, &analyst, "/api/v1/assets", &asset("Website", 1)).await;

    // Viewers read; only analysts and above write.
    let got = app
        .json_ok(
            app.get_auth(&format!("/api/v1/assets/{crm}"), &viewer)
                .await,
            200,
        )
        .await;
    assert_eq!(got["name"], "CRM database");
    assert_eq!(got["description"], "notes on CRM database");
    assert_eq!(got["risk_level"], Value::Null);
    let res = app
        .post_auth("/api/v1/assets", &viewer, &asset("x", 1))
        .await;
    assert_eq!(res.status(), 403);

    // Bad input is a clear 422 and changes nothing.
    let mut bad = asset("Broken", 1);
    bad["confidentiality"] = json!(9);
    let res = app.post_auth("/api/v1/assets", &analyst, &bad).await;
    let body = app.json_ok(res, 422).await;
    assert_eq!(body["details"]["fields"][0]["field"], "confidentiality");
    let res = app
        .put_auth(&format!("/api/v1/assets/{crm}"), &analyst, &bad)
        .await;
    assert_eq!(res.status(), 422);
    let mut unknown = asset("Sneaky", 1);
    unknown["tenant_id"] = json!(uuid::Uuid::now_v7());
    assert_eq!(
        app.post_auth("/api/v1/assets", &analyst, &unknown)
            .await
            .status(),
        422
    );
    let all = app
        .json_ok(app.get_auth("/api/v1/assets?limit=100", &viewer).await, 200)
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(all["next_cursor"], Value::Null);

    // Filters, text search, sort and cursor pages.
    let list = |q: &'static str| {
        let app = &app;
        let viewer = viewer.clone();
        async move {
            app.json_ok(
                app.get_auth(&format!("/api/v1/assets?{q}"), &viewer).await,
                200,
            )
            .await
        }
    };
    assert_eq!(ids(&list("type=hardware").await), vec![tapes.clone()]);
    assert_eq!(ids(&list("tag=offsite-storage").await), vec![tapes.clone()]);
    assert_eq!(ids(&list("q=web").await), vec![web.clone()]);
    assert_eq!(
        ids(&list("classification=confidential&sort=name").await),
        vec![tapes.clone(), crm.clone(), web.clone()]
    );
    let first = list("sort=-name&limit=2").await;
    assert_eq!(ids(&first), vec![web.clone(), crm.clone()]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let res = app
        .get_auth(
            &format!("/api/v1/assets?sort=-name&limit=2&cursor={cursor}"),
            &viewer,
        )
        .await;
    let second = app.json_ok(res, 200).await;
    assert_eq!(ids(&second), vec![tapes.clone()]);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(
        app.get_auth("/api/v1/assets?limit=0", &viewer)
            .await
            .status(),
        422
    );
    assert_eq!(
        app.get_auth("/api/v1/assets?sort=password", &viewer)
            .await
            .status(),
        422
    );
    assert_eq!(
        app.get_auth("/api/v1/assets?type=castle", &viewer)
            .await
            .status(),
        400
    );

    // Replace and delete.
    let mut renamed = asset("CRM (prod)", 4);
    renamed["classification"] = json!("restricted");
    let res = app
        .put_auth(&format!("/api/v1/assets/{crm}"), &analyst, &renamed)
        .await;
    assert_eq!(app.json_ok(res, 200).await["name"], "CRM (prod)");
    let res = app
        .delete_auth(&format!("/api/v1/assets/{web}"), &analyst)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .get_auth(&format!("/api/v1/assets/{web}"), &viewer)
        .await;
    assert_eq!(res.status(), 404);

    // The default catalogue is there; tenants add their own threats.
    let threats = app
        .json_ok(
            app.get_auth("/api/v1/threats?limit=100", &viewer).await,
            200,
        )
        .await;
    assert!(threats["items"].as_array().unwrap().len() >= 10);
    let t = create(
        &app,
        &analyst,
        "/api/v1/threats",
        &threat("Insider leak", "likely"),
    )
    .await;
    let res = app
        .put_auth(
            &format!("/api/v1/threats/{t}"),
            &analyst,
            &threat("Insider leak", "possible"),
        )
        .await;
    assert_eq!(app.json_ok(res, 200).await["base_likelihood"], "possible");
    let found = app
        .json_ok(
            app.get_auth("/api/v1/threats?q=insider", &viewer).await,
            200,
        )
        .await;
    assert_eq!(ids(&found), vec![t.clone()]);

    let mut v = vulnerability("Weak TLS");
    v["affected_assets"] = json!([crm]);
    let v = create(&app, &analyst, "/api/v1/vulnerabilities", &v).await;
    let res = app
        .get_auth(
            &format!("/api/v1/vulnerabilities?asset={crm}&status=open"),
            &viewer,
        )
        .await;
    assert_eq!(ids(&app.json_ok(res, 200).await), vec![v.clone()]);
    let mut foreign = vulnerability("Bad link");
    foreign["affected_assets"] = json!([uuid::Uuid::now_v7()]);
    let res = app
        .post_auth("/api/v1/vulnerabilities", &analyst, &foreign)
        .await;
    assert_eq!(res.status(), 422);

    // Another tenant sees none of it: 404, never 403.
    let (_, other) = app.other_tenant("Other Org", "boss@other.example").await;
    for path in [
        format!("/api/v1/assets/{crm}"),
        format!("/api/v1/threats/{t}"),
        format!("/api/v1/vulnerabilities/{v}"),
    ] {
        assert_eq!(
            app.get_auth(&path, &other.access).await.status(),
            404,
            "{path}"
        );
        assert_eq!(
            app.delete_auth(&path, &other.access).await.status(),
            404,
            "{path}"
        );
    }
    let res = app
        .put_auth(
            &format!("/api/v1/assets/{crm}"),
            &other.access,
            &asset("Mine", 1),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_auth(
            &format!("/api/v1/assets/{crm}/exposures"),
            &other.access,
            &json!({ "threat_id": t }),
        )
        .await;
    assert_eq!(res.status(), 404);
    let theirs = app
        .json_ok(app.get_auth("/api/v1/assets", &other.access).await, 200)
        .await;
    assert!(ids(&theirs).is_empty());

    // Every change was an audit event.
    assert_eq!(app.audit_count(&admin, "asset_created").await, 3);
    assert_eq!(app.audit_count(&admin, "asset_updated").await, 1);
    assert_eq!(app.audit_count(&admin, "asset_deleted").await, 1);
    assert!(app.audit_count(&admin, "threat_created").await >= 2);
    assert_eq!(app.audit_count(&admin, "vulnerability_created").await, 1);
    app.stop().await;
}

async fn pinned_case_history_and_due_runs(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await.access;
    let (_, analyst) = app.member(&admin, "ana@x.example", "analyst").await;
    let (_, viewer) = app.member(&admin, "vic@x.example", "viewer").await;
    // Rated 4 on confidentiality, the property the threat targets.
    let a = create(&app, &analyst, "/api/v1/assets", &asset("Payroll", 4)).await;
    let t = create(
        &app,
        &analyst,
        "/api/v1/threats",
        &threat("Data theft", "almost_certain"),
    )
    .await;
    let v = create(
        &app,
        &analyst,
        "/api/v1/vulnerabilities",
        &vulnerability("SQLi"),
    )
    .await;
    let link = json!({ "threat_id": t, "vulnerability_id": v });
    let path = format!("/api/v1/assets/{a}/exposures");
    assert_eq!(app.post_auth(&path, &viewer, &link).await.status(), 403);
    let risk = app
        .json_ok(app.post_auth(&path, &analyst, &link).await, 201)
        .await;
    assert_eq!(risk["inherent_score"], 20);
    assert_eq!(risk["inherent_level"], "critical");
    assert_eq!(app.post_auth(&path, &analyst, &link).await.status(), 409);
    let bad = json!({ "threat_id": uuid::Uuid::now_v7() });
    assert_eq!(app.post_auth(&path, &analyst, &bad).await.status(), 422);

    let assess = format!("/api/v1/assets/{a}/assessments");
    assert_eq!(
        app.post_auth(&assess, &viewer, &json!({})).await.status(),
        403
    );
    let first = app
        .json_ok(app.post_auth(&assess, &analyst, &json!({})).await, 201)
        .await;
    assert_eq!(first["risk_score"], 20);
    assert_eq!(first["risk_level"], "critical");
    assert_eq!(first["asset_id"], a.as_str());
    assert!(!first["required_mitigations"].as_array().unwrap().is_empty());
    assert_eq!(first["contributions"].as_array().unwrap().len(), 1);
    assert_eq!(first["contributions"][0]["impact"], 4);
    assert_eq!(first["contributions"][0]["likelihood"], 5);
    for field in [
        "next_assessment_due",
        "assessed_at",
        "compliance_status",
        "assessor",
        "id",
    ] {
        assert!(!first[field].is_null(), "{field}");
    }
    let due = chrono::DateTime::parse_from_rfc3339(first["next_assessment_due"].as_str().unwrap())
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(first["assessed_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - at).num_days(), 30);

    // A mitigated vulnerability lowers the likelihood.
    let mut fixed = vulnerability("SQLi");
    fixed["status"] = json!("mitigated");
    fixed["remediated_at"] = json!(chrono::Utc::now().to_rfc3339());
    let res = app
        .put_auth(&format!("/api/v1/vulnerabilities/{v}"), &analyst, &fixed)
        .await;
    assert_eq!(res.status(), 200);
    let second = app
        .json_ok(app.post_auth(&assess, &analyst, &json!({})).await, 201)
        .await;
    assert!(second["risk_score"].as_u64().unwrap() < 20, "{second}");
    assert!(second["contributions"][0]["likelihood"].as_u64().unwrap() < 5);

    // History: newest first, paged; the asset shows the latest.
    let page1 = app
        .json_ok(
            app.get_auth(&format!("{assess}?limit=1"), &viewer).await,
            200,
        )
        .await;
    assert_eq!(ids(&page1), vec![second["id"].as_str().unwrap().to_owned()]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .json_ok(
            app.get_auth(&format!("{assess}?limit=1&cursor={cursor}"), &viewer)
                .await,
            200,
        )
        .await;
    assert_eq!(ids(&page2), vec![first["id"].as_str().unwrap().to_owned()]);
    let shown = app
        .json_ok(
            app.get_auth(&format!("/api/v1/assets/{a}"), &viewer).await,
            200,
        )
        .await;
    assert_eq!(shown["risk_score"], second["risk_score"]);

    // Runs assess what is due: the new asset, then nothing.
    let b = create(&app, &analyst, "/api/v1/assets", &asset("Intranet", 2)).await;
    let res = app
        .post_auth(
            &format!("/api/v1/assets/{b}/exposures"),
            &analyst,
            &json!({ "threat_id": t }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        app.post_auth("/api/v1/assessments/run", &viewer, &json!({}))
            .await
            .status(),
        403
    );
    let run = app
        .json_ok(
            app.post_auth("/api/v1/assessments/run", &analyst, &json!({}))
                .await,
            200,
        )
        .await;
    assert_eq!(run["assessed"], 1);
    let run = app
        .json_ok(
            app.post_auth("/api/v1/assessments/run", &analyst, &json!({}))
                .await,
            200,
        )
        .await;
    assert_eq!(run["assessed"], 0);
    let history = app
        .json_ok(
            app.get_auth(&format!("/api/v1/assets/{b}/assessments"), &viewer)
                .await,
            200,
        )
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);

    // Unlinking removes the risk from the register.
    let res = app
        .delete_auth(
            &format!("/api/v1/assets/{b}/exposures?threat_id={t}"),
            &analyst,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .delete_auth(
            &format!("/api/v1/assets/{b}/exposures?threat_id={t}"),
            &analyst,
        )
        .await;
    assert_eq!(res.status(), 404);
    let reg = app
        .json_ok(
            app.get_auth(&format!("/api/v1/risks?asset={b}"), &viewer)
                .await,
            200,
        )
        .await;
    assert!(ids(&reg).is_empty());

    assert_eq!(app.audit_count(&admin, "assessment_recorded").await, 3);
    assert_eq!(app.audit_count(&admin, "exposure_created").await, 2);
    assert_eq!(app.audit_count(&admin, "exposure_deleted").await, 1);
    app.stop().await;
}

/// Links a new asset to a new threat of each likelihood until the risk
/// lands on `level`; returns the risk id.
async fn risk_at_level(app: &TestApp, token: &str, level: &str) -> String {
    for rating in [4u8, 3, 2, 1] {
        for likelihood in ["almost_certain", "likely", "possible", "unlikely", "rare"] {
            let a = create(
                app,
                token,
                "/api/v1/assets",
                &asset(&format!("A {level} {rating} {likelihood}"), rating),
            )
            .await;
            let t = create(
                app,
                token,
                "/api/v1/threats",
                &threat(&format!("T {level} {rating} {likelihood}"), likelihood),
            )
            .await;
            let res = app
                .post_auth(
                    &format!("/api/v1/assets/{a}/exposures"),
                    token,
                    &json!({ "threat_id": t }),
                )
                .await;
            let risk = app.json_ok(res, 201).await;
            if risk["inherent_level"] == level {
                return risk["id"].as_str().unwrap().to_owned();
            }
            assert_eq!(
                app.delete_auth(&format!("/api/v1/assets/{a}"), token)
                    .await
                    .status(),
                204
            );
        }
    }
    panic!("no combination gives a {level} risk");
}

async fn approvals_follow_the_level_with_step_up_for_critical(backend: Backend) {
    // No session cache, so a moved step-up time is seen at once.
    let Some(app) = TestApp::start(backend, &[("ISMS_SESSION_CACHE_SECS", "0")]).await else {
        return;
    };
    let (admin_tokens, mfa) = app.admin_with_mfa().await;
    let admin = admin_tokens.access.clone();
    let (analyst_id, analyst) = app.member(&admin, "ana@x.example", "analyst").await;
    let (_, manager) = app.member(&admin, "max@x.example", "manager").await;
    let (_, viewer) = app.member(&admin, "vic@x.example", "viewer").await;

    let accept =
        json!({ "option": "accept", "owner": analyst_id, "description": "within appetite" });
    // HIGH: manager+, not the proposer.
    let high = risk_at_level(&app, &analyst, "high").await;
    let treat = format!("/api/v1/risks/{high}/treatment");
    assert_eq!(app.put_auth(&treat, &viewer, &accept).await.status(), 403);
    let t = app
        .json_ok(app.put_auth(&treat, &analyst, &accept).await, 200)
        .await;
    assert_eq!(t["status"], "proposed");
    let approve = format!("{treat}/approve");
    let body = json!({ "comment": "ok by risk committee" });
    assert_eq!(app.post_auth(&approve, &viewer, &body).await.status(), 403);
    assert_eq!(app.post_auth(&approve, &analyst, &body).await.status(), 403);
    let done = app
        .json_ok(app.post_auth(&approve, &manager, &body).await, 200)
        .await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["approvals"][0]["comment"], "ok by risk committee");
    assert_eq!(app.post_auth(&approve, &manager, &body).await.status(), 409);
    let entry = app
        .json_ok(
            app.get_auth(&format!("/api/v1/risks/{high}"), &viewer)
                .await,
            200,
        )
        .await;
    assert_eq!(entry["residual_level"], "high");
    assert_eq!(entry["treatment_status"], "done");

    // CRITICAL: admin only, with a recent step-up.
    let crit = risk_at_level(&app, &analyst, "critical").await;
    let treat = format!("/api/v1/risks/{crit}/treatment");
    let mitigate = json!({
        "option": "mitigate",
        "owner": analyst_id,
        "planned_controls": ["8.8"],
        "due_date": (chrono::Utc::now() + chrono::Duration::days(30)).date_naive(),
        "residual": { "impact": 2, "likelihood": 2 },
    });
    app.json_ok(app.put_auth(&treat, &analyst, &mitigate).await, 200)
        .await;
    let approve = format!("{treat}/approve");
    let res = app.post_auth(&approve, &manager, &body).await;
    assert_eq!(res.status(), 403);
    let sid = uuid::Uuid::parse_str(support_claims(&admin)["sid"].as_str().unwrap()).unwrap();
    let long_ago = isms_domain::time::truncate(chrono::Utc::now() - chrono::Duration::hours(1));
    app.sql(
        "UPDATE sessions SET mfa_verified_at = $1 WHERE id = $2",
        sid,
        long_ago,
    )
    .await;
    let res = app.post_auth(&approve, &admin, &body).await;
    let err = app.json_ok(res, 403).await;
    assert_eq!(err["code"], "mfa_step_up_required");
    let still = app
        .json_ok(
            app.get_auth(&format!("/api/v1/risks/{crit}"), &viewer)
                .await,
            200,
        )
        .await;
    assert_eq!(still["treatment_status"], "proposed");
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/step-up",
            &admin,
            &json!({ "code": mfa.code(0) }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let board = json!({ "comment": "board minute 2026-12" });
    let approved = app
        .json_ok(app.post_auth(&approve, &admin, &board).await, 200)
        .await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["approvals"][0]["step_up"], true);
    assert_eq!(approved["approvals"][0]["role"], "admin");
    // Carried out: started, then done, which sets the residual score.
    let complete = format!("{treat}/complete");
    assert_eq!(
        app.post_auth(&complete, &analyst, &json!({}))
            .await
            .status(),
        409
    );
    let start = format!("{treat}/start");
    assert_eq!(
        app.post_auth(&start, &viewer, &json!({})).await.status(),
        403
    );
    let started = app
        .json_ok(app.post_auth(&start, &analyst, &json!({})).await, 200)
        .await;
    assert_eq!(started["status"], "in_progress");
    let done = app
        .json_ok(app.post_auth(&complete, &analyst, &json!({})).await, 200)
        .await;
    assert_eq!(done["status"], "done");
    let entry = app
        .json_ok(
            app.get_auth(&format!("/api/v1/risks/{crit}"), &viewer)
                .await,
            200,
        )
        .await;
    assert_eq!(entry["residual_score"], 4);
    assert_eq!(entry["residual_level"], "low");
    assert_eq!(
        app.put_auth(&treat, &analyst, &mitigate).await.status(),
        409
    );

    // Approvals are audit events with approver, time and comment.
    let res = app
        .get_auth(
            "/api/v1/audit/events?event_type=treatment_approved&limit=10",
            &admin,
        )
        .await;
    let events = app.json_ok(res, 200).await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let admin_id = support_claims(&admin)["sub"].as_str().unwrap().to_owned();
    let last = items
        .iter()
        .find(|e| e["details"]["comment"] == "board minute 2026-12")
        .unwrap();
    assert_eq!(last["actor_user_id"], admin_id.as_str());
    assert_eq!(last["details"]["approver"], admin_id.as_str());
    assert_eq!(last["details"]["step_up"], true);
    assert!(last["details"]["approved_at"].is_string());
    assert_eq!(app.audit_count(&admin, "treatment_updated").await, 4);
    app.stop().await;
}

fn support_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// RFC 4180 records (quotes, doubled quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

async fn register_heatmap_and_csv_export_agree(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await.access;
    let (_, analyst) = app.member(&admin, "ana@x.example", "analyst").await;
    let (_, viewer) = app.member(&admin, "vic@x.example", "viewer").await;
    let names = ["=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@HYPERLINK(x)"];
    let t1 = create(
        &app,
        &analyst,
        "/api/v1/threats",
        &threat("Theft, \"big\"", "likely"),
    )
    .await;
    let t2 = create(&app, &analyst, "/api/v1/threats", &threat("Flood", "rare")).await;
    for (i, name) in names.iter().enumerate() {
        let a = create(
            &app,
            &analyst,
            "/api/v1/assets",
            &asset(name, u8::try_from(i % 4 + 1).unwrap()),
        )
        .await;
        for t in [&t1, &t2] {
            let res = app
                .post_auth(
                    &format!("/api/v1/assets/{a}/exposures"),
                    &analyst,
                    &json!({ "threat_id": t }),
                )
                .await;
            assert_eq!(res.status(), 201);
        }
    }
    // The register, paged.
    let page1 = app
        .json_ok(app.get_auth("/api/v1/risks?limit=5", &viewer).await, 200)
        .await;
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .json_ok(
            app.get_auth(&format!("/api/v1/risks?limit=5&cursor={cursor}"), &viewer)
                .await,
            200,
        )
        .await;
    let mut register: Vec<Value> = page1["items"].as_array().unwrap().clone();
    register.extend(page2["items"].as_array().unwrap().iter().cloned());
    assert_eq!(register.len(), 8);
    assert_eq!(page2["next_cursor"], Value::Null);
    let level = register[0]["inherent_level"].as_str().unwrap();
    let filtered = app
        .json_ok(
            app.get_auth(&format!("/api/v1/risks?level={level}&limit=100"), &viewer)
                .await,
            200,
        )
        .await;
    let expected = register
        .iter()
        .filter(|r| r["inherent_level"] == level)
        .count();
    assert_eq!(filtered["items"].as_array().unwrap().len(), expected);

    // The heat map counts exactly the register, cell by cell.
    let map = app
        .json_ok(app.get_auth("/api/v1/risks/heatmap", &viewer).await, 200)
        .await;
    assert_eq!(map["risks"], 8);
    for grid in ["inherent", "residual"] {
        let cells = map[grid]["cells"].as_array().unwrap();
        let mut total = 0;
        for (i, row) in cells.iter().enumerate() {
            for (l, n) in row.as_array().unwrap().iter().enumerate() {
                let count = register
                    .iter()
                    .filter(|r| r["inherent_impact"] == i + 1 && r["inherent_likelihood"] == l + 1)
                    .count();
                assert_eq!(n.as_u64().unwrap() as usize, count, "{grid} {i} {l}");
                total += count;
            }
        }
        assert_eq!(total, 8);
    }

    // CSV export: analyst+, parses, and defuses formula cells.
    assert_eq!(
        app.get_auth("/api/v1/risks/export?format=csv", &viewer)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_auth("/api/v1/risks/export?format=xlsx", &analyst)
            .await
            .status(),
        422
    );
    let res = app
        .get_auth("/api/v1/risks/export?format=csv", &analyst)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let rows = parse_csv(&res.text().await.unwrap());
    assert_eq!(rows[0][0], "risk_id");
    assert_eq!(rows.len(), 9);
    assert!(rows[1..].iter().all(|r| r.len() == rows[0].len()));
    for name in names {
        let cells: Vec<&String> = rows
            .iter()
            .map(|r| &r[1])
            .filter(|c| c.ends_with(name))
            .collect();
        assert_eq!(cells.len(), 2, "{name}");
        for c in cells {
            assert_eq!(*c, format!("'{name}"));
        }
    }
    assert!(rows.iter().any(|r| r[2] == "Theft, \"big\""));
    assert_eq!(app.audit_count(&admin, "data_export").await, 1);
    app.stop().await;
}
