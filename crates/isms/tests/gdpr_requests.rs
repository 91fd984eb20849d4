//! GDPR data-subject requests and retention over real HTTP, on SQLite and
//! PostgreSQL: an export is produced asynchronously, sealed at rest and
//! downloadable once after a step-up; erasure shreds the account in one
//! transaction and leaves the audit log verifiable; rectification and
//! hand-tracked requests; retention reports, then erases; the
//! gdpr_compliance check reads it all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "a long enough password 1";
const REQUESTS: &str = "/api/v1/gdpr/requests";

on_both_backends!(
    an_export_is_produced_sealed_and_downloaded_once,
    erasure_shreds_the_account_and_the_log_still_verifies,
    rectification_and_hand_tracked_requests,
    retention_reports_then_erases,
    gdpr_compliance_reads_the_records,
);

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// One count from the test database; `$1` is bound to `id`.
async fn scalar(app: &TestApp, sql: &'static str, id: &str) -> i64 {
    app.count(sql, id.parse().unwrap()).await
}

/// Waits for the export job to complete request `id`.
async fn completed(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..100 {
        let r = json_of(app.get_auth(&format!("{REQUESTS}/{id}"), token).await, 200).await;
        if r["status"] == "completed" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("request {id} was not completed");
}

async fn audit_count(app: &TestApp, token: &str, kind: &str) -> usize {
    let events = json_of(
        app.get_auth(
            &format!("/api/v1/audit/events?event_type={kind}&limit=100"),
            token,
        )
        .await,
        200,
    )
    .await;
    events["items"].as_array().unwrap().len()
}

/// Runs the checks now; the latest `gdpr_compliance` result.
async fn gdpr_check(app: &TestApp, token: &str) -> Value {
    json_of(
        app.post_auth("/api/v1/compliance/run", token, &json!({}))
            .await,
        200,
    )
    .await;
    let checks = json_of(app.get_auth("/api/v1/compliance/checks", token).await, 200).await;
    checks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "gdpr_compliance")
        .unwrap()["last_result"]
        .clone()
}

fn request(subject: Value, kind: &str) -> Value {
    json!({ "subject": subject, "kind": kind })
}

async fn an_export_is_produced_sealed_and_downloaded_once(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let t = &admin.access;
    let user = app.create_user(t, "subject@x.example", "viewer", PW).await;
    let viewer = app.login("subject@x.example", PW).await;
    app.create_user(t, "manager@x.example", "manager", PW).await;
    let manager = app.login("manager@x.example", PW).await;
    json_of(
        app.post_auth(
            "/api/v1/gdpr/consents",
            t,
            &json!({
                "subject": { "type": "user", "id": user },
                "purpose": "employment records",
                "lawful_basis": "contract",
                "given_at": "2026-01-10T09:00:00Z",
            }),
        )
        .await,
        201,
    )
    .await;

    let subject = json!({ "type": "user", "id": user });
    let body = request(subject.clone(), "export");
    assert_eq!(
        app.post_auth(REQUESTS, &viewer.access, &body)
            .await
            .status(),
        403
    );
    for bad in [
        request(
            json!({ "type": "user", "id": uuid::Uuid::now_v7() }),
            "export",
        ),
        request(subject.clone(), "forget"),
        json!({ "subject": subject, "kind": "export", "changes": { "display_name": "x" } }),
        json!({ "subject": subject, "kind": "export", "colour": "red" }),
    ] {
        assert_eq!(
            app.post_auth(REQUESTS, t, &bad).await.status(),
            422,
            "{bad}"
        );
    }
    let res = app.post_auth(REQUESTS, t, &body).await;
    assert_eq!(res.status(), 202);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "received");
    let due: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(created["due_at"].clone()).unwrap();
    let at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(created["created_at"].clone()).unwrap();
    assert_eq!((due - at).num_days(), 30);

    let done = completed(&app, t, &id).await;
    assert!(done["completed_at"].is_string());
    // Sealed at rest: the stored export is an envelope, not the JSON.
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM gdpr_exports WHERE request_id = $1 AND payload_enc IS NOT NULL \
             AND payload_enc NOT LIKE '%subject@x.example%' AND payload_enc NOT LIKE '%{%'",
            &id,
        )
        .await,
        1
    );

    let export = format!("{REQUESTS}/{id}/export");
    // Neither another manager (not the requester) nor another tenant.
    assert_eq!(app.get_auth(&export, &manager.access).await.status(), 403);
    let (_, other) = app.other_tenant("gdpr-dsr-other", "boss@dsr.example").await;
    assert_eq!(app.get_auth(&export, &other.access).await.status(), 404);

    let res = app.get_auth(&export, t).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["format"], "isms.subject-export.v1");
    assert_eq!(doc["request_id"], id.as_str());
    assert_eq!(doc["subject"], subject);
    assert_eq!(doc["account"]["email"], "subject@x.example");
    assert_eq!(doc["account"]["role"], "viewer");
    assert!(doc["account"].get("password_hash").is_none());
    assert!(!doc["sessions"].as_array().unwrap().is_empty());
    assert_eq!(doc["consents"][0]["purpose"], "employment records");
    assert_eq!(doc["data_subject_requests"][0]["id"], id.as_str());
    let events: Vec<&str> = doc["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"login_success"), "{events:?}");
    assert!(events.contains(&"user_created"), "{events:?}");

    // Once: the payload is gone and a second download is refused.
    let again = json_of(app.get_auth(&export, t).await, 410).await;
    assert_eq!(again["code"], "export_downloaded");
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM gdpr_exports WHERE request_id = $1 AND payload_enc IS NULL \
             AND downloaded_at IS NOT NULL",
            &id,
        )
        .await,
        1
    );
    assert_eq!(audit_count(&app, t, "data_export").await, 1);
    assert_eq!(
        audit_count(&app, t, "data_subject_request_created").await,
        1
    );
    assert_eq!(
        audit_count(&app, t, "data_subject_request_completed").await,
        1
    );

    // An external subject's export holds its records only.
    let ext = json_of(
        app.post_auth(
            REQUESTS,
            t,
            &request(json!({ "type": "external", "id": "crm-7" }), "access"),
        )
        .await,
        202,
    )
    .await;
    let ext_id = ext["id"].as_str().unwrap();
    completed(&app, t, ext_id).await;
    let doc = json_of(
        app.get_auth(&format!("{REQUESTS}/{ext_id}/export"), t)
            .await,
        200,
    )
    .await;
    assert_eq!(doc["account"], Value::Null);
    assert!(doc["audit_events"].as_array().unwrap().is_empty());
    assert_eq!(doc["data_subject_requests"][0]["id"], ext_id);

    // A download needs a step-up: an admin without a second factor is
    // refused even as the requester.
    app.create_user(t, "admin2@x.example", "admin", PW).await;
    let admin2 = app.login("admin2@x.example", PW).await;
    let own = json_of(
        app.post_auth(
            REQUESTS,
            &admin2.access,
            &request(json!({ "type": "external", "id": "crm-8" }), "export"),
        )
        .await,
        202,
    )
    .await;
    let own_id = own["id"].as_str().unwrap();
    completed(&app, t, own_id).await;
    assert_eq!(
        app.get_auth(&format!("{REQUESTS}/{own_id}/export"), &admin2.access)
            .await
            .status(),
        403
    );
    app.stop().await;
}

async fn erasure_shreds_the_account_and_the_log_still_verifies(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let t = &admin.access;
    let user = app.create_user(t, "gone@x.example", "analyst", PW).await;
    let victim = app.login("gone@x.example", PW).await;
    app.create_user(t, "mgr@x.example", "manager", PW).await;
    let manager = app.login("mgr@x.example", PW).await;
    let body = request(json!({ "type": "user", "id": user }), "erasure");

    // A manager without a step-up cannot erase; nobody erases themselves.
    assert_eq!(
        app.post_auth(REQUESTS, &manager.access, &body)
            .await
            .status(),
        403
    );
    let me = app
        .get_auth("/api/v1/users/me", t)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let own = request(json!({ "type": "user", "id": me["id"] }), "erasure");
    assert_eq!(app.post_auth(REQUESTS, t, &own).await.status(), 422);

    let done = json_of(app.post_auth(REQUESTS, t, &body).await, 201).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["kind"], "erasure");
    // The account is gone, its sessions are dead and scrubbed, its key
    // destroyed, its personal data overwritten.
    assert_eq!(app.login_raw("gone@x.example", PW).await.status(), 401);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &victim.access)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get_auth(&format!("/api/v1/users/{user}"), t)
            .await
            .status(),
        404
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM users WHERE id = $1 AND erased_at IS NOT NULL AND deleted_at IS NOT NULL", &user).await,
        1
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND (ip IS NOT NULL OR user_agent IS NOT NULL)", &user).await,
        0
    );
    assert!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &user
        )
        .await
            >= 1
    );
    // The tenant's only subject key is the erased user's tombstone.
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM subject_keys WHERE tenant_id = \
             (SELECT tenant_id FROM users WHERE id = $1) \
             AND wrapped_key IS NULL AND destroyed_at IS NOT NULL",
            &user,
        )
        .await,
        1
    );
    assert_eq!(audit_count(&app, t, "subject_erased").await, 1);
    // Erased once: a second request finds no account.
    assert_eq!(app.post_auth(REQUESTS, t, &body).await.status(), 422);

    // Nothing in the audit log was rewritten: it verifies.
    let report = json_of(
        app.post_auth("/api/v1/audit/verify", t, &json!({})).await,
        200,
    )
    .await;
    assert!(report["first_failure"].is_null(), "{report}");
    app.stop().await;
}

async fn rectification_and_hand_tracked_requests(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let user = app.create_user(t, "typo@x.example", "viewer", PW).await;
    let subject = json!({ "type": "user", "id": user });

    assert_eq!(
        app.post_auth(REQUESTS, t, &request(subject.clone(), "rectification"))
            .await
            .status(),
        422,
        "rectifying a user names the corrections"
    );
    let bad = json!({ "subject": subject, "kind": "rectification", "changes": { "email": "not an address" } });
    assert_eq!(app.post_auth(REQUESTS, t, &bad).await.status(), 422);
    let fix = json!({
        "subject": subject,
        "kind": "rectification",
        "changes": { "display_name": "Jane Correct", "email": "jane@x.example" },
    });
    let done = json_of(app.post_auth(REQUESTS, t, &fix).await, 201).await;
    assert_eq!(done["status"], "completed");
    let account = json_of(app.get_auth(&format!("/api/v1/users/{user}"), t).await, 200).await;
    assert_eq!(account["display_name"], "Jane Correct");
    assert_eq!(account["email"], "jane@x.example");
    assert_eq!(app.login_raw("jane@x.example", PW).await.status(), 200);
    let id = done["id"].as_str().unwrap();
    let path = format!("{REQUESTS}/{id}");
    let moved = app
        .patch_auth(&path, t, &json!({ "status": "completed" }))
        .await;
    assert_eq!(moved.status(), 409, "the server fulfils a user's requests");

    // About someone outside the system: tracked, moved by hand.
    let ext = json_of(
        app.post_auth(
            REQUESTS,
            t,
            &request(json!({ "type": "external", "id": "crm-1" }), "erasure"),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(ext["status"], "received");
    let path = format!("{REQUESTS}/{}", ext["id"].as_str().unwrap());
    let no_reason = app
        .patch_auth(&path, t, &json!({ "status": "rejected" }))
        .await;
    assert_eq!(no_reason.status(), 422);
    let started = json_of(
        app.patch_auth(&path, t, &json!({ "status": "in_progress" }))
            .await,
        200,
    )
    .await;
    assert_eq!(started["status"], "in_progress");
    let closed = json_of(
        app.patch_auth(&path, t, &json!({ "status": "completed" }))
            .await,
        200,
    )
    .await;
    assert!(closed["completed_at"].is_string());
    assert_eq!(
        app.patch_auth(&path, t, &json!({ "status": "rejected", "reason": "late" }))
            .await
            .status(),
        409
    );

    let other = json_of(
        app.post_auth(
            REQUESTS,
            t,
            &request(
                json!({ "type": "external", "id": "crm-2" }),
                "rectification",
            ),
        )
        .await,
        201,
    )
    .await;
    let path = format!("{REQUESTS}/{}", other["id"].as_str().unwrap());
    let rejected = json_of(
        app.patch_auth(
            &path,
            t,
            &json!({ "status": "rejected", "reason": "identity not verified" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["rejection_reason"], "identity not verified");

    let listed = json_of(app.get_auth(&format!("{REQUESTS}?limit=2"), t).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert!(listed["next_cursor"].is_string());
    assert_eq!(
        audit_count(&app, t, "data_subject_request_rejected").await,
        1
    );
    app.stop().await;
}

async fn retention_reports_then_erases(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let t = &admin.access;
    app.create_user(t, "mgr@x.example", "manager", PW).await;
    let manager = app.login("mgr@x.example", PW).await;
    let path = "/api/v1/gdpr/retention";

    let listed = json_of(app.get_auth(path, t).await, 200).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert_eq!(listed["categories"].as_array().unwrap().len(), 4);
    let sessions = format!("{path}/sessions");
    let put = |days: i64, enforce: bool| json!({ "days": days, "enforce": enforce });
    assert_eq!(
        app.put_auth(&sessions, &manager.access, &put(30, false))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.put_auth(&format!("{path}/tickets"), t, &put(30, false))
            .await
            .status(),
        422
    );
    assert_eq!(
        app.put_auth(&sessions, t, &put(0, false)).await.status(),
        422
    );
    assert_eq!(
        app.put_auth(&sessions, t, &put(36_501, false))
            .await
            .status(),
        422
    );
    json_of(app.put_auth(&sessions, t, &put(30, false)).await, 200).await;
    json_of(
        app.put_auth(&format!("{path}/deleted_accounts"), t, &put(30, false))
            .await,
        200,
    )
    .await;

    // A session that ended 40 days ago, and an account deleted 40 days
    // ago without erasure.
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    let leaver = app.create_user(t, "leaver@x.example", "viewer", PW).await;
    let session = app.login("leaver@x.example", PW).await;
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &session.access, &json!({}))
            .await
            .status(),
        204
    );
    app.sql(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2",
        leaver.parse().unwrap(),
        old,
    )
    .await;
    let deleted = app.create_user(t, "deleted@x.example", "viewer", PW).await;
    assert_eq!(
        app.delete_auth(&format!("/api/v1/users/{deleted}"), t)
            .await
            .status(),
        204
    );
    app.sql(
        "UPDATE users SET deleted_at = $1 WHERE id = $2",
        deleted.parse().unwrap(),
        old,
    )
    .await;

    let finding = |run: &Value, category: &str| -> Value {
        run["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["category"] == category)
            .cloned()
            .unwrap()
    };
    // Reported, nothing erased.
    let run = json_of(
        app.post_auth(&format!("{path}/run"), &manager.access, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(run["enforce"], false);
    assert_eq!(finding(&run, "sessions")["expired"], 1);
    assert_eq!(finding(&run, "sessions")["erased"], 0);
    assert_eq!(finding(&run, "deleted_accounts")["expired"], 1);
    assert_eq!(
        run["categories_without_policy"],
        json!(["withdrawn_consents", "closed_requests"])
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &leaver
        )
        .await,
        1
    );

    // The check sees the backlog (10 days past, beyond the 7-day grace).
    let gdpr = gdpr_check(&app, t).await;
    assert_eq!(gdpr["status"], "FAILED");
    assert_eq!(gdpr["details"]["past_retention"]["records"], 2);

    // Enforcing is an admin's, with a step-up.
    assert_eq!(
        app.post_auth(
            &format!("{path}/run?enforce=true"),
            &manager.access,
            &json!({})
        )
        .await
        .status(),
        403
    );
    let run = json_of(
        app.post_auth(&format!("{path}/run?enforce=true"), t, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(finding(&run, "sessions")["erased"], 1);
    assert_eq!(finding(&run, "deleted_accounts")["erased"], 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &leaver
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM users WHERE id = $1 AND erased_at IS NOT NULL",
            &deleted
        )
        .await,
        1
    );
    assert_eq!(audit_count(&app, t, "retention_enforced").await, 1);
    assert_eq!(audit_count(&app, t, "subject_erased").await, 1);
    // Nothing is left past retention.
    let run = json_of(
        app.post_auth(&format!("{path}/run"), t, &json!({})).await,
        200,
    )
    .await;
    assert_eq!(finding(&run, "sessions")["expired"], 0);
    assert_eq!(finding(&run, "deleted_accounts")["expired"], 0);

    assert_eq!(app.delete_auth(&sessions, t).await.status(), 204);
    assert_eq!(app.delete_auth(&sessions, t).await.status(), 404);
    let report = json_of(
        app.post_auth("/api/v1/audit/verify", t, &json!({})).await,
        200,
    )
    .await;
    assert!(report["first_failure"].is_null(), "{report}");
    app.stop().await;
}

async fn gdpr_compliance_reads_the_records(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let user = app.create_user(t, "staff@x.example", "viewer", PW).await;
    let me = json_of(app.get_auth("/api/v1/users/me", t).await, 200).await;
    // Two accounts, no lawful basis recorded for either.
    let r = gdpr_check(&app, t).await;
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["details"]["without_consent"]["count"], 2);
    for id in [user.as_str(), me["id"].as_str().unwrap()] {
        json_of(
            app.post_auth(
                "/api/v1/gdpr/consents",
                t,
                &json!({
                    "subject": { "type": "user", "id": id },
                    "purpose": "staff account",
                    "lawful_basis": "contract",
                    "given_at": "2026-01-10T09:00:00Z",
                }),
            )
            .await,
            201,
        )
        .await;
    }
    let r = gdpr_check(&app, t).await;
    assert_eq!(r["status"], "PASSED", "{r}");
    // An open request is tracked; past its deadline the check fails.
    let open = json_of(
        app.post_auth(
            REQUESTS,
            t,
            &request(json!({ "type": "external", "id": "crm-3" }), "erasure"),
        )
        .await,
        201,
    )
    .await;
    let r = gdpr_check(&app, t).await;
    assert_eq!(r["details"]["requests_pending"], 1);
    assert_eq!(r["status"], "PASSED");
    app.sql(
        "UPDATE gdpr_requests SET created_at = $1 WHERE id = $2",
        open["id"].as_str().unwrap().parse().unwrap(),
        chrono::Utc::now() - chrono::Duration::days(31),
    )
    .await;
    let r = gdpr_check(&app, t).await;
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["details"]["requests_overdue"]["ids"][0], open["id"]);
    app.stop().await;
}
