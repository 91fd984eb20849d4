//! The compliance monitor over real HTTP, on SQLite and PostgreSQL: every
//! check's result follows the live data it reads (pass, warn and fail,
//! seeded through the API or, for ages, by moving stored times back), the
//! status and score agree with the checks, audit tampering fails
//! `audit_log_integrity` and raises an alert, a due check runs once with
//! two instances on one database, and permissions and bad input are
//! refused without changing anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "a long enough password 1";

/// The scheduler stays out of the way; the tests run checks themselves.
const QUIET: &[(&str, &str)] = &[("ISMS_COMPLIANCE_SCHEDULER_INTERVAL_SECS", "86400")];

on_both_backends!(
    a_run_reports_every_check_and_the_status_matches,
    account_checks_pass_warn_and_fail,
    key_checks_follow_key_age,
    audit_tampering_fails_integrity_and_raises_an_alert,
    permissions_and_bad_input_change_nothing,
    reviews_are_recorded_all_or_nothing,
    configuration_round_trips_and_applies,
    a_due_check_runs_once_across_two_instances,
    risk_review_fails_on_an_untreated_critical_risk,
);

async fn start(backend: Backend) -> Option<TestApp> {
    TestApp::start(backend, QUIET).await
}

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn run(app: &TestApp, token: &str) -> Value {
    json_of(
        app.post_auth("/api/v1/compliance/run", token, &json!({}))
            .await,
        200,
    )
    .await
}

/// The checks by id.
async fn checks(app: &TestApp, token: &str) -> BTreeMap<String, Value> {
    let body = json_of(app.get_auth("/api/v1/compliance/checks", token).await, 200).await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

/// Runs all checks and returns the last result of `check`.
async fn run_and_get(app: &TestApp, token: &str, check: &str) -> Value {
    run(app, token).await;
    checks(app, token).await[check]["last_result"].clone()
}

fn status_of(result: &Value) -> &str {
    result["status"].as_str().unwrap()
}

async fn tenant_of(app: &TestApp, token: &str) -> uuid::Uuid {
    let me = json_of(app.get_auth("/api/v1/users/me", token).await, 200).await;
    me["tenant_id"].as_str().unwrap().parse().unwrap()
}

/// Raw statements against the test database, as someone with direct
/// access to it would run them.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn open(app: &TestApp) -> Self {
        match app.config.database_url.backend() {
            isms_store::Backend::Sqlite => {
                Self::Sqlite(sqlx::SqlitePool::connect(app.db.url()).await.unwrap())
            }
            isms_store::Backend::Postgres => {
                Self::Postgres(sqlx::PgPool::connect(app.db.url()).await.unwrap())
            }
        }
    }

    async fn exec(&self, sql: &str) -> u64 {
        let q = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(p) => sqlx::raw_sql(q).execute(p).await.map(|r| r.rows_affected()),
            Self::Postgres(p) => sqlx::raw_sql(q).execute(p).await.map(|r| r.rows_affected()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Sets a timestamp column of the rows `filter` selects to `days` ago.
    async fn days_ago(&self, table: &str, column: &str, days: i64, filter: &str) -> u64 {
        let at = (Utc::now() - Duration::days(days)).to_rfc3339();
        self.exec(&format!(
            "UPDATE {table} SET {column} = '{at}' WHERE {filter}"
        ))
        .await
    }

    fn id(&self, id: &str) -> String {
        match self {
            Self::Sqlite(_) => format!("X'{}'", id.replace('-', "")),
            Self::Postgres(_) => format!("'{id}'"),
        }
    }

    async fn count(&self, sql: &str) -> Vec<(String, i64)> {
        let q = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await.unwrap(),
            Self::Postgres(p) => sqlx::query_as(q).fetch_all(p).await.unwrap(),
        }
    }

    async fn close(self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

// ---------------------------------------------------------------------------

/// Tenths of the score the documented formula gives for these checks.
fn expected_tenths(items: &BTreeMap<String, Value>) -> (i64, i64, i64) {
    let (mut passed, mut critical, mut warnings) = (0i64, 0i64, 0i64);
    for c in items.values() {
        let status = status_of(&c["last_result"]);
        match (status, c["severity"].as_str().unwrap()) {
            ("PASSED", _) => passed += 1,
            ("FAILED", "CRITICAL") => critical += 1,
            _ => warnings += 1,
        }
    }
    let total = items.len() as i64;
    let base = (1000 * passed * 2 + total) / (2 * total);
    (
        (base - 100 * critical - 20 * warnings).max(0),
        critical,
        warnings,
    )
}

async fn risk_review_fails_on_an_untreated_critical_risk(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let created = |path: &'static str, body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let res = app.post_auth(path, &token, &body).await;
            json_of(res, 201).await["id"].as_str().unwrap().to_owned()
        }
    };
    // The pinned case of the risk engine: 4 × 5 = 20, CRITICAL.
    let asset = created(
        "/api/v1/assets",
        json!({"name": "customer database", "asset_type": "information",
               "classification": "restricted", "confidentiality": 4, "integrity": 2,
               "availability": 2, "business_value": 4}),
    )
    .await;
    let threat = created(
        "/api/v1/threats",
        json!({"name": "data theft", "category": "deliberate",
               "targets": ["confidentiality"], "base_likelihood": "almost_certain"}),
    )
    .await;
    let vulnerability = created(
        "/api/v1/vulnerabilities",
        json!({"name": "unpatched database", "severity": "critical",
               "discovered_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    let res = app
        .post_auth(
            &format!("/api/v1/assets/{asset}/exposures"),
            &admin.access,
            &json!({"threat_id": threat, "vulnerability_id": vulnerability}),
        )
        .await;
    json_of(res, 201).await;

    run(&app, &admin.access).await;
    let items = checks(&app, &admin.access).await;
    let result = &items["risk_review"]["last_result"];
    assert_eq!(status_of(result), "FAILED", "{result}");
    assert!(
        result["message"].as_str().unwrap().contains("1 CRITICAL"),
        "{result}"
    );
}

async fn a_run_reports_every_check_and_the_status_matches(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    // Nothing ran yet.
    let empty = json_of(
        app.get_auth("/api/v1/compliance/status", &admin.access)
            .await,
        200,
    )
    .await;
    assert_eq!(empty["ran_at"], Value::Null);
    assert!(
        checks(&app, &admin.access)
            .await
            .values()
            .all(|c| c["last_result"].is_null())
    );

    let after_run = run(&app, &admin.access).await;
    let items = checks(&app, &admin.access).await;
    let ids: Vec<&str> = items.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "access_reviews",
            "admin_count",
            "audit_log_integrity",
            "dormant_accounts",
            "encryption_compliance",
            "gdpr_compliance",
            "key_rotation",
            "password_policy",
            "risk_review",
        ]
    );
    for c in items.values() {
        for field in ["name", "severity", "frequency", "controls"] {
            assert!(!c[field].is_null(), "{field} in {c}");
        }
        let r = &c["last_result"];
        for field in ["status", "message", "details", "recommendation", "ran_at"] {
            assert!(r.get(field).is_some(), "{field} in {r}");
        }
    }
    assert_eq!(items["audit_log_integrity"]["severity"], "CRITICAL");
    assert_eq!(items["audit_log_integrity"]["frequency"], "hourly");
    assert_eq!(
        items["encryption_compliance"]["controls"],
        json!(["8.24", "5.34"])
    );
    // An empty risk register has nothing overdue or untreated.
    assert_eq!(status_of(&items["risk_review"]["last_result"]), "PASSED");
    // Every account is personal data: the bootstrap admin has no
    // lawful-basis record yet.
    let gdpr = &items["gdpr_compliance"]["last_result"];
    assert_eq!(status_of(gdpr), "FAILED");
    assert_eq!(gdpr["details"]["without_consent"]["count"], 1);
    // The bootstrap admin has no MFA.
    assert_eq!(status_of(&items["admin_count"]["last_result"]), "FAILED");

    let status = json_of(
        app.get_auth("/api/v1/compliance/status", &admin.access)
            .await,
        200,
    )
    .await;
    let (tenths, critical, warnings) = expected_tenths(&items);
    assert_eq!(
        (status["score"].as_f64().unwrap() * 10.0).round() as i64,
        tenths
    );
    assert_eq!(
        status["critical_issues"].as_array().unwrap().len() as i64,
        critical
    );
    assert_eq!(
        status["warnings"].as_array().unwrap().len() as i64,
        warnings
    );
    let overall = if critical > 0 {
        "NON_COMPLIANT"
    } else if warnings > 0 {
        "WARNING"
    } else {
        "COMPLIANT"
    };
    assert_eq!(status["overall_status"], overall);
    assert_eq!(after_run["score"], status["score"]);
    assert_eq!(after_run["overall_status"], status["overall_status"]);
    assert!(status["ran_at"].is_string());

    // The history has one point per run, oldest first, paged.
    run(&app, &admin.access).await;
    let first = json_of(
        app.get_auth("/api/v1/compliance/history?limit=1", &admin.access)
            .await,
        200,
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert_eq!(first["items"][0]["score"], status["score"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_of(
        app.get_auth(
            &format!("/api/v1/compliance/history?limit=1&cursor={cursor}"),
            &admin.access,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    assert!(second["items"][0]["ran_at"].as_str() >= first["items"][0]["ran_at"].as_str());

    // Every run is in the audit log.
    let events = json_of(
        app.get_auth(
            "/api/v1/audit/events?event_type=compliance_run",
            &admin.access,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
}

async fn account_checks_pass_warn_and_fail(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let t = &admin.access;
    let manager_id = app.create_user(t, "m@x.example", "manager", PW).await;
    let viewer_id = app.create_user(t, "v@x.example", "viewer", PW).await;
    let db = Db::open(&app).await;

    // Fresh accounts with strong hashes, one administrator with MFA.
    let items = {
        run(&app, t).await;
        checks(&app, t).await
    };
    for check in ["password_policy", "admin_count", "dormant_accounts"] {
        assert_eq!(status_of(&items[check]["last_result"]), "PASSED", "{check}");
    }
    // Nobody was ever reviewed.
    let reviews = &items["access_reviews"]["last_result"];
    assert_eq!(status_of(reviews), "WARNING");
    assert_eq!(reviews["details"]["never_reviewed"], 3, "{reviews}");

    // Reviews by the admin (of the others) and the manager (of the admin).
    let me = json_of(app.get_auth("/api/v1/users/me", t).await, 200).await;
    let admin_id = me["id"].as_str().unwrap().to_owned();
    let body = json!({ "reviews": [
        { "user_id": manager_id, "outcome": "keep" },
        { "user_id": viewer_id, "outcome": "modify", "comment": "drop the extra project" },
    ]});
    let done = json_of(app.post_auth("/api/v1/access-reviews", t, &body).await, 201).await;
    assert_eq!(done["items"].as_array().unwrap().len(), 2);
    let manager = app.login("m@x.example", PW).await;
    json_of(
        app.post_auth(
            &format!("/api/v1/users/{admin_id}/access-review"),
            &manager.access,
            &json!({ "outcome": "keep" }),
        )
        .await,
        201,
    )
    .await;
    let user = json_of(
        app.get_auth(&format!("/api/v1/users/{viewer_id}"), t).await,
        200,
    )
    .await;
    assert!(user["last_access_review_at"].is_string());
    assert_eq!(
        status_of(&run_and_get(&app, t, "access_reviews").await),
        "PASSED"
    );

    // A review older than 90 days is overdue, older than 180 a failure.
    let viewer = format!("id = {}", db.id(&viewer_id));
    db.days_ago("users", "last_access_review_at", 100, &viewer)
        .await;
    let r = run_and_get(&app, t, "access_reviews").await;
    assert_eq!(status_of(&r), "WARNING");
    assert!(r["details"].to_string().contains(&viewer_id), "{r}");
    db.days_ago("users", "last_access_review_at", 200, &viewer)
        .await;
    assert_eq!(
        status_of(&run_and_get(&app, t, "access_reviews").await),
        "FAILED"
    );

    // Dormant: a viewer unused for 100 days warns, a manager fails.
    db.days_ago("users", "created_at", 100, &viewer).await;
    db.days_ago("users", "last_login_at", 100, &viewer).await;
    let r = run_and_get(&app, t, "dormant_accounts").await;
    assert_eq!(status_of(&r), "WARNING", "{r}");
    let manager_row = format!("id = {}", db.id(&manager_id));
    db.days_ago("users", "created_at", 100, &manager_row).await;
    db.days_ago("users", "last_login_at", 100, &manager_row)
        .await;
    assert_eq!(
        status_of(&run_and_get(&app, t, "dormant_accounts").await),
        "FAILED"
    );

    // Password hashes: weak Argon2 parameters warn, another algorithm fails.
    db.exec(&format!(
        "UPDATE users SET password_hash = '$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' WHERE {viewer}"
    ))
    .await;
    assert_eq!(
        status_of(&run_and_get(&app, t, "password_policy").await),
        "WARNING"
    );
    db.exec(&format!(
        "UPDATE users SET password_hash = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW' WHERE {viewer}"
    ))
    .await;
    let r = run_and_get(&app, t, "password_policy").await;
    assert_eq!(status_of(&r), "FAILED");
    assert!(r["recommendation"].is_string());

    // A second administrator without MFA fails admin_count; with at most
    // one administrator allowed, two with MFA only warn.
    let second = app.create_user(t, "a2@x.example", "admin", PW).await;
    let r = run_and_get(&app, t, "admin_count").await;
    assert_eq!(status_of(&r), "FAILED");
    assert!(r["details"].to_string().contains(&second), "{r}");
    let a2 = app.login("a2@x.example", PW).await;
    app.enroll_mfa(&a2.access).await;
    let mut cfg = json_of(app.get_auth("/api/v1/compliance/config", t).await, 200).await;
    cfg["thresholds"]["max_admins"] = json!(1);
    json_of(put(&app, "/api/v1/compliance/config", t, &cfg).await, 200).await;
    assert_eq!(
        status_of(&run_and_get(&app, t, "admin_count").await),
        "WARNING"
    );
    db.close().await;
}

async fn key_checks_follow_key_age(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let t = &admin.access;
    app.create_user(t, "k@x.example", "viewer", PW).await;
    let items = {
        run(&app, t).await;
        checks(&app, t).await
    };
    assert_eq!(status_of(&items["key_rotation"]["last_result"]), "PASSED");
    let enc = &items["encryption_compliance"]["last_result"];
    assert_eq!(status_of(enc), "PASSED", "{enc}");
    assert!(
        enc["details"]["columns_checked"].as_u64().unwrap() >= 1,
        "{enc}"
    );

    // A rotation leaves the personal data under the superseded version
    // until it is rewrapped: a warning, then a pass again.
    let keys = "/api/v1/keys/confidential";
    json_of(
        app.post_auth(&format!("{keys}/rotate"), t, &json!({}))
            .await,
        200,
    )
    .await;
    let enc = run_and_get(&app, t, "encryption_compliance").await;
    assert_eq!(status_of(&enc), "WARNING", "{enc}");
    assert!(
        enc["details"]["totals"]["superseded"].as_u64().unwrap() >= 2,
        "{enc}"
    );
    let rewrapped = json_of(
        app.post_auth(&format!("{keys}/rewrap"), t, &json!({}))
            .await,
        200,
    )
    .await;
    assert!(rewrapped["rewrapped"].as_u64().unwrap() >= 1, "{rewrapped}");
    assert_eq!(
        status_of(&run_and_get(&app, t, "encryption_compliance").await),
        "PASSED"
    );

    let db = Db::open(&app).await;
    // 80 days: within the 14-day warning window of the 90-day period.
    assert!(
        db.days_ago("data_keys", "created_at", 80, "state = 'primary'")
            .await
            >= 1
    );
    assert_eq!(
        status_of(&run_and_get(&app, t, "key_rotation").await),
        "WARNING"
    );
    assert_eq!(
        status_of(&run_and_get(&app, t, "encryption_compliance").await),
        "PASSED"
    );
    // 100 days: the key is over age, and so is the data under it.
    db.days_ago("data_keys", "created_at", 100, "state = 'primary'")
        .await;
    run(&app, t).await;
    let items = checks(&app, t).await;
    assert_eq!(status_of(&items["key_rotation"]["last_result"]), "FAILED");
    let enc = &items["encryption_compliance"]["last_result"];
    assert_eq!(status_of(enc), "FAILED");
    assert!(
        enc["details"]["totals"]["over_age"].as_u64().unwrap() >= 1,
        "{enc}"
    );
    db.close().await;
}

async fn audit_tampering_fails_integrity_and_raises_an_alert(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    for i in 0..3 {
        app.create_user(t, &format!("au{i}@x.example"), "viewer", PW)
            .await;
    }
    let cp = json_of(app.get_auth("/api/v1/audit/checkpoint", t).await, 200).await;
    let log = cp["log_id"].as_str().unwrap().to_owned();
    let r = run_and_get(&app, t, "audit_log_integrity").await;
    assert_eq!(status_of(&r), "PASSED", "{r}");

    // Someone with database access edits an entry.
    let db = Db::open(&app).await;
    match db {
        Db::Sqlite(_) => db.exec("DROP TRIGGER audit_entries_no_update").await,
        Db::Postgres(_) => {
            db.exec("DROP TRIGGER audit_entries_append_only ON audit_entries")
                .await
        }
    };
    let n = db
        .exec(&format!(
            "UPDATE audit_entries SET canonical = canonical || ' ' \
             WHERE log_id = '{log}' AND seq = 3"
        ))
        .await;
    assert_eq!(n, 1);

    let status = run(&app, t).await;
    let r = checks(&app, t).await["audit_log_integrity"]["last_result"].clone();
    assert_eq!(status_of(&r), "FAILED", "{r}");
    assert_eq!(r["details"]["first_bad_seq"], 3, "{r}");
    assert_eq!(status["overall_status"], "NON_COMPLIANT");
    assert!(
        status["critical_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["check"] == "audit_log_integrity")
    );
    let alerts = json_of(app.get_auth("/api/v1/alerts", t).await, 200).await;
    let alert = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["event_type"] == "compliance_check_failed")
        .unwrap_or_else(|| panic!("an alert for the failed check: {alerts}"));
    assert_eq!(alert["severity"], "CRITICAL");
    db.close().await;
}

async fn permissions_and_bad_input_change_nothing(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    app.create_user(t, "pv@x.example", "viewer", PW).await;
    app.create_user(t, "pa@x.example", "analyst", PW).await;
    app.create_user(t, "pu@x.example", "auditor", PW).await;
    app.create_user(t, "pm@x.example", "manager", PW).await;
    let viewer = app.login("pv@x.example", PW).await;
    let analyst = app.login("pa@x.example", PW).await;
    let auditor = app.login("pu@x.example", PW).await;
    let manager = app.login("pm@x.example", PW).await;

    for token in [&viewer.access, &analyst.access] {
        for path in [
            "/api/v1/compliance/checks",
            "/api/v1/compliance/status",
            "/api/v1/compliance/history",
        ] {
            assert_eq!(app.get_auth(path, token).await.status(), 403, "{path}");
        }
        assert_eq!(
            app.post_auth("/api/v1/compliance/run", token, &json!({}))
                .await
                .status(),
            403
        );
    }
    // Auditors read, never run; managers run, but do not configure.
    assert_eq!(
        app.get_auth("/api/v1/compliance/status", &auditor.access)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_auth("/api/v1/compliance/run", &auditor.access, &json!({}))
            .await
            .status(),
        403
    );
    let body = json_of(
        app.post_auth("/api/v1/compliance/run", &manager.access, &json!({}))
            .await,
        200,
    )
    .await;
    assert!(body["score"].is_number());
    assert_eq!(
        app.get_auth("/api/v1/compliance/config", &manager.access)
            .await
            .status(),
        403
    );
    assert_eq!(
        put(
            &app,
            "/api/v1/compliance/config",
            &manager.access,
            &json!({})
        )
        .await
        .status(),
        403
    );
    // A refused request is an error body with a request id.
    let res = app
        .get_auth("/api/v1/compliance/checks", &viewer.access)
        .await;
    let err: Value = res.json().await.unwrap();
    assert!(err["code"].is_string() && err["message"].is_string() && err["request_id"].is_string());

    // Bad configurations are refused and change nothing.
    let before = json_of(app.get_auth("/api/v1/compliance/config", t).await, 200).await;
    for bad in [
        json!({ "thresholds": { "max_admins": 0 } }),
        json!({ "thresholds": { "no_such_threshold": 1 } }),
        json!({ "checks": { "admin_count": { "enabled": true, "frequency": "yearly", "severity": "HIGH" } } }),
    ] {
        let res = put(&app, "/api/v1/compliance/config", t, &bad).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    assert_eq!(
        json_of(app.get_auth("/api/v1/compliance/config", t).await, 200).await,
        before
    );
}

async fn reviews_are_recorded_all_or_nothing(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let viewer_id = app.create_user(t, "rv@x.example", "viewer", PW).await;
    let (_, other) = app.other_tenant("other-tenant", "boss@other.example").await;
    let other_user = app
        .create_user(&other.access, "ou@other.example", "viewer", PW)
        .await;
    let me = json_of(app.get_auth("/api/v1/users/me", t).await, 200).await;
    let admin_id = me["id"].as_str().unwrap();

    let review = |id: &str| format!("/api/v1/users/{id}/access-review");
    // Another tenant's user and an unknown one are not found.
    for id in [other_user.as_str(), "0190b5a0-0000-7000-8000-000000000000"] {
        let res = app
            .post_auth(&review(id), t, &json!({ "outcome": "keep" }))
            .await;
        assert_eq!(res.status(), 404, "{id}");
    }
    // Nobody reviews themselves; outcomes are a closed list.
    let res = app
        .post_auth(&review(admin_id), t, &json!({ "outcome": "keep" }))
        .await;
    assert_eq!(res.status(), 422);
    for bad in [
        json!({ "outcome": "delete" }),
        json!({}),
        json!({ "outcome": "keep", "x": 1 }),
    ] {
        let res = app.post_auth(&review(&viewer_id), t, &bad).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = app
        .post_auth(
            &review(&viewer_id),
            t,
            &json!({ "outcome": "keep", "comment": "x".repeat(1001) }),
        )
        .await;
    assert_eq!(res.status(), 422);
    // A batch with one foreign user records nothing.
    let res = app
        .post_auth(
            "/api/v1/access-reviews",
            t,
            &json!({ "reviews": [
                { "user_id": viewer_id, "outcome": "keep" },
                { "user_id": other_user, "outcome": "keep" },
            ]}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_auth("/api/v1/access-reviews", t, &json!({ "reviews": [] }))
        .await;
    assert_eq!(res.status(), 422);
    let user = json_of(
        app.get_auth(&format!("/api/v1/users/{viewer_id}"), t).await,
        200,
    )
    .await;
    assert_eq!(user["last_access_review_at"], Value::Null);
    let foreign = json_of(
        app.get_auth(&format!("/api/v1/users/{other_user}"), &other.access)
            .await,
        200,
    )
    .await;
    assert_eq!(foreign["last_access_review_at"], Value::Null);

    // A good review: 201, stamped, and in the audit log.
    let done = json_of(
        app.post_auth(
            &review(&viewer_id),
            t,
            &json!({ "outcome": "revoke", "comment": "left the team" }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(done["outcome"], "revoke");
    assert_eq!(done["user_id"], viewer_id.as_str());
    assert_eq!(done["reviewer_id"], admin_id);
    let user = json_of(
        app.get_auth(&format!("/api/v1/users/{viewer_id}"), t).await,
        200,
    )
    .await;
    assert_eq!(user["last_access_review_at"], done["reviewed_at"]);
    let events = json_of(
        app.get_auth("/api/v1/audit/events?event_type=access_reviewed", t)
            .await,
        200,
    )
    .await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["details"]["outcome"], "revoke");
    assert!(
        !events.to_string().contains("left the team"),
        "comments stay out of the log"
    );
}

async fn configuration_round_trips_and_applies(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let defaults = json_of(app.get_auth("/api/v1/compliance/config", t).await, 200).await;
    assert_eq!(
        defaults["checks"]["audit_log_integrity"]["frequency"],
        "hourly"
    );
    let mut cfg = defaults.clone();
    cfg["checks"]["risk_review"]["enabled"] = json!(false);
    cfg["checks"]["gdpr_compliance"]["enabled"] = json!(false);
    cfg["checks"]["admin_count"]["severity"] = json!("LOW");
    let stored = json_of(put(&app, "/api/v1/compliance/config", t, &cfg).await, 200).await;
    assert_eq!(stored, cfg);
    assert_eq!(
        json_of(app.get_auth("/api/v1/compliance/config", t).await, 200).await,
        cfg
    );

    run(&app, t).await;
    let items = checks(&app, t).await;
    assert_eq!(items["risk_review"]["enabled"], false);
    assert!(
        items["risk_review"]["last_result"].is_null(),
        "disabled checks do not run"
    );
    assert_eq!(items["admin_count"]["severity"], "LOW");
    assert_eq!(items["admin_count"]["last_result"]["status"], "FAILED");
    // Disabled checks do not count: seven results, the admin-count failure
    // only a warning.
    let status = json_of(app.get_auth("/api/v1/compliance/status", t).await, 200).await;
    let counted: BTreeMap<String, Value> = items
        .into_iter()
        .filter(|(_, c)| c["enabled"] == true)
        .collect();
    assert_eq!(counted.len(), 7);
    let (tenths, ..) = expected_tenths(&counted);
    assert_eq!(
        (status["score"].as_f64().unwrap() * 10.0).round() as i64,
        tenths
    );
    let events = json_of(
        app.get_auth(
            "/api/v1/audit/events?event_type=compliance_config_changed",
            t,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
}

async fn a_due_check_runs_once_across_two_instances(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let tenant: isms_domain::TenantId = tenant_of(&app, &admin.access).await.into();
    // Two instances of the application on one database, racing.
    let (one, two) = (app.services().await, app.services().await);
    let (a, b) = tokio::join!(
        one.app.compliance.run_due_for(tenant),
        two.app.compliance.run_due_for(tenant),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 9, "every check was due and ran once: {a} + {b}");
    let db = Db::open(&app).await;
    let per_check = db
        .count("SELECT check_id, COUNT(*) FROM compliance_results GROUP BY check_id")
        .await;
    assert_eq!(per_check.len(), 9);
    assert!(per_check.iter().all(|(_, n)| *n == 1), "{per_check:?}");
    // Nothing is due any more, on either instance.
    assert_eq!(one.app.compliance.run_due_for(tenant).await.unwrap(), 0);
    assert_eq!(two.app.compliance.run_due().await.unwrap(), 0);
    db.close().await;
}
