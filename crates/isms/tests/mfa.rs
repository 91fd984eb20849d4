#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Strong authentication over real HTTP, on SQLite and PostgreSQL: TOTP
//! enrolment and login, replay and recovery codes, step-up for sensitive
//! actions, the tenant's MFA requirement and its contextual access policy.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::Timelike;
use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "a long enough passphrase";

on_both_backends!(
    totp_enrolment_and_login,
    step_up_guards_sensitive_actions,
    tenant_can_require_mfa_for_roles,
    contextual_policy_denies_outside_networks_and_hours,
);

fn claims(token: &str) -> Value {
    serde_json::from_slice(&B64URL.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn verify(app: &TestApp, mfa_token: &Value, code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/mfa/verify"))
        .json(&json!({ "mfa_token": mfa_token, "code": code }))
        .send()
        .await
        .unwrap()
}

/// Logs in with the password and returns the `mfa_required` challenge.
async fn challenge(app: &TestApp, email: &str) -> Value {
    let res = app.login_raw(email, PW).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "mfa_required");
    assert!(body["request_id"].is_string());
    body["mfa_token"].clone()
}

async fn code_of(res: reqwest::Response) -> String {
    res.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn totp_enrolment_and_login(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    app.create_user(&admin.access, "tina@x.example", "analyst", PW)
        .await;
    let tina = app.login("tina@x.example", PW).await;
    assert_eq!(claims(&tina.access)["amr"], json!(["pwd"]));

    // Enrolment shows the secret once; it is pending until confirmed.
    let res = app
        .post_auth("/api/v1/auth/mfa/totp/enroll", &tina.access, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(body["secret"].as_str().unwrap()));
    let secret =
        isms_domain::totp::TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    // Starting an enrolment is audited (never with the secret).
    let res = app
        .get_auth(
            "/api/v1/audit/events?event_type=mfa_enrollment_started",
            &admin.access,
        )
        .await;
    assert_eq!(res.status(), 200);
    let events: Value = res.json().await.unwrap();
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{events}");
    assert_eq!(items[0]["actor_user_id"], claims(&tina.access)["sub"]);
    assert!(
        !events
            .to_string()
            .contains(body["secret"].as_str().unwrap())
    );
    // Still a password-only login while pending.
    app.login("tina@x.example", PW).await;
    // Codes are computed when used, so a step boundary passing mid-test
    // only moves them forward.
    let now = || chrono::Utc::now().timestamp();
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &tina.access,
            &json!({ "code": "000000" }),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(code_of(res).await, "invalid_code");
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &tina.access,
            &json!({ "code": secret.code_at(now() - 30) }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut recovery: Vec<String> = res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let status: Value = app
        .get_auth("/api/v1/auth/mfa", &tina.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["enrolled"], true);
    assert_eq!(status["recovery_codes_left"], 10);

    // Login now stops at the second factor.
    let token = challenge(&app, "tina@x.example").await;
    let res = verify(&app, &token, "123456x").await;
    assert_eq!(res.status(), 401);
    assert_eq!(code_of(res).await, "invalid_mfa_code");
    let current = secret.code_at(now());
    let res = verify(&app, &token, &current).await;
    assert_eq!(res.status(), 200);
    let pair: Value = res.json().await.unwrap();
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["amr"], json!(["pwd", "otp"]));
    assert_eq!(app.get_auth("/api/v1/users/me", access).await.status(), 200);
    // Refreshed tokens keep the session's methods.
    let res = app.refresh(pair["refresh_token"].as_str().unwrap()).await;
    let refreshed: Value = res.json().await.unwrap();
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    // The challenge is single-use.
    let res = verify(&app, &token, &secret.code_at(now() + 30)).await;
    assert_eq!(res.status(), 401);

    // A code is accepted once: replaying it on a new challenge fails.
    let token = challenge(&app, "tina@x.example").await;
    let res = verify(&app, &token, &current).await;
    assert_eq!(res.status(), 401);
    // A recovery code works, once.
    let code = recovery.pop().unwrap();
    let res = verify(&app, &token, &code.to_uppercase()).await;
    assert_eq!(res.status(), 200);
    let token = challenge(&app, "tina@x.example").await;
    assert_eq!(verify(&app, &token, &code).await.status(), 401);

    // Removing MFA needs a current code; afterwards login is one step.
    let fresh = app
        .client
        .post(app.url("/api/v1/auth/mfa/verify"))
        .json(&json!({ "mfa_token": token, "code": recovery.pop().unwrap() }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    let res = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(fresh)
        .json(&json!({ "code": "999999" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(fresh)
        .json(&json!({ "code": secret.code_at(now() + 30) }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    app.login("tina@x.example", PW).await;
    app.stop().await;
}

async fn step_up_guards_sensitive_actions(backend: Backend) {
    // No session cache, so the stored verification time is what counts.
    let Some(app) = TestApp::start(backend, &[("ISMS_SESSION_CACHE_SECS", "0")]).await else {
        return;
    };
    let admin = app.admin().await;
    let id = app
        .create_user(&admin.access, "sam@x.example", "viewer", PW)
        .await;
    let promote = |token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.patch_auth(
                &format!("/api/v1/users/{id}"),
                &token,
                &json!({ "role": "analyst" }),
            )
            .await
        }
    };
    // No MFA yet: enrol first.
    let res = promote(admin.access.clone()).await;
    assert_eq!(res.status(), 403);
    assert_eq!(code_of(res).await, "mfa_enrollment_required");
    // Step-up without enrolment says the same.
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/step-up",
            &admin.access,
            &json!({ "code": "123456" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(code_of(res).await, "mfa_enrollment_required");
    // Non-sensitive changes need nothing.
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{id}"),
            &admin.access,
            &json!({ "display_name": "Sam" }),
        )
        .await;
    assert_eq!(res.status(), 200);

    let mut mfa = app.enroll_mfa(&admin.access).await;
    assert_eq!(promote(admin.access.clone()).await.status(), 200);

    // Once the verification is older than the window, step-up is needed.
    let sid = uuid::Uuid::parse_str(claims(&admin.access)["sid"].as_str().unwrap()).unwrap();
    let long_ago = isms_domain::time::truncate(chrono::Utc::now() - chrono::Duration::hours(1));
    app.sql(
        "UPDATE sessions SET mfa_verified_at = $1 WHERE id = $2",
        sid,
        long_ago,
    )
    .await;
    let res = app
        .delete_auth(&format!("/api/v1/users/{id}"), &admin.access)
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(code_of(res).await, "mfa_step_up_required");
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/step-up",
            &admin.access,
            &json!({ "code": "000000" }),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_auth(
            "/api/v1/auth/mfa/step-up",
            &admin.access,
            &json!({ "code": mfa.code(0) }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.json::<Value>().await.unwrap()["valid_until"].is_string());
    assert_eq!(
        app.delete_auth(&format!("/api/v1/users/{id}"), &admin.access)
            .await
            .status(),
        204
    );
    // A later MFA login is fresh for step-up at once.
    let t = app
        .login_mfa(support::ADMIN_EMAIL, support::ADMIN_PASSWORD, &mut mfa)
        .await;
    let other = app
        .create_user(&t.access, "olga@x.example", "viewer", PW)
        .await;
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{other}"),
            &t.access,
            &json!({ "is_active": false }),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

async fn tenant_can_require_mfa_for_roles(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    app.create_user(&admin.access, "ann@x.example", "analyst", PW)
        .await;
    // Requiring MFA for one's own role before enrolling would lock one out;
    // here the admin has MFA.
    let res = app
        .client
        .put(app.url("/api/v1/tenant/access-policy"))
        .bearer_auth(&admin.access)
        .json(&json!({ "mfa_required_roles": ["analyst", "admin"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let policy: Value = app
        .get_auth("/api/v1/tenant/access-policy", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(policy["mfa_required_roles"], json!(["admin", "analyst"]));

    // An analyst without MFA reaches only the enrolment endpoints.
    let ann = app.login("ann@x.example", PW).await;
    let res = app.get_auth("/api/v1/users/me", &ann.access).await;
    assert_eq!(res.status(), 403);
    assert_eq!(code_of(res).await, "mfa_enrollment_required");
    let status: Value = app
        .get_auth("/api/v1/auth/mfa", &ann.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["required"], true);
    let ann_mfa = app.enroll_mfa(&ann.access).await;
    assert_eq!(
        app.get_auth("/api/v1/users/me", &ann.access).await.status(),
        200
    );
    // While the policy requires it, the second factor cannot be removed.
    let res = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(&ann.access)
        .json(&json!({ "code": ann_mfa.code(1) }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["details"]["fields"][0]["code"], "mfa_required_by_policy",
        "{body}"
    );
    app.stop().await;
}

async fn contextual_policy_denies_outside_networks_and_hours(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    app.create_user(&admin.access, "vic@x.example", "viewer", PW)
        .await;
    app.create_user(&admin.access, "al@x.example", "analyst", PW)
        .await;
    let vic = app.login("vic@x.example", PW).await;
    let al = app.login("al@x.example", PW).await;
    let put = |body: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.client
                .put(app.url("/api/v1/tenant/access-policy"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // A policy that would shut out the admin's own request is refused.
    let res = put(json!({ "roles": { "admin": { "allowed_cidrs": ["10.0.0.0/8"] } } })).await;
    assert_eq!(res.status(), 422);
    // Invalid policies are refused and change nothing.
    let res = put(json!({ "roles": { "viewer": { "allowed_hours": { "time_zone": "Mars/Olympus", "weekdays": ["mon"], "from": "08:00", "to": "18:00" } } } })).await;
    assert_eq!(res.status(), 422);
    let res = put(json!({ "roles": { "viewer": { "allowed_cidrs": ["banana"] } } })).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &vic.access).await.status(),
        200
    );

    // Viewers only from 10/8; analysts only in a window that excludes now.
    let now = chrono::Utc::now();
    let from = (now.hour() + 2) % 24;
    let to = (now.hour() + 3) % 24;
    let res = put(json!({ "roles": {
        "viewer": { "allowed_cidrs": ["10.0.0.0/8", "2001:db8::/32"] },
        "analyst": { "allowed_hours": {
            "time_zone": "UTC",
            "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "from": format!("{from:02}:00"),
            "to": format!("{to:02}:00"),
        } },
    } }))
    .await;
    assert_eq!(res.status(), 200);
    let res = app.get_auth("/api/v1/users/me", &vic.access).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "access_denied_context");
    assert_eq!(body["details"]["constraint"], "ip_restriction");
    let res = app.get_auth("/api/v1/users/me", &al.access).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["details"]["constraint"], "time_restriction");
    // Unrestricted roles are untouched.
    assert_eq!(
        app.get_auth("/api/v1/users/me", &admin.access)
            .await
            .status(),
        200
    );
    // Lifting the policy restores access.
    assert_eq!(put(json!({})).await.status(), 200);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &vic.access).await.status(),
        200
    );
    app.stop().await;
}
