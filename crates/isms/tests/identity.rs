#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Identity and access over real HTTP, on SQLite and PostgreSQL: the token
//! lifecycle, forged tokens, key rotation, tenant isolation, RBAC, session
//! revocation and idle timeout.

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use isms_domain::ports::AccessTokenCodec;
use serde_json::{Value, json};
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

const PW: &str = "a long enough passphrase";

on_both_backends!(
    token_lifecycle,
    forged_and_invalid_tokens_are_401,
    signing_key_rotation_keeps_old_tokens_valid,
    tenants_are_isolated,
    rbac_limits_what_roles_do,
    deactivated_and_deleted_users_lose_access_at_once,
    idle_session_is_401,
    concurrent_refresh_double_submit_has_one_winner,
    no_user_enumeration,
    users_api_and_password_change,
    oauth2_token_endpoint,
    sessions_list_and_revoke,
);

async fn token_lifecycle(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let t = app.admin().await;
    assert_eq!(t.body["token_type"], "bearer");
    assert_eq!(t.body["expires_in"], 1800);
    assert_eq!(t.body["refresh_expires_in"], 604800);

    let me = app.get_auth("/api/v1/users/me", &t.access).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert!(me.get("password_hash").is_none());

    // Refresh rotates: the old refresh token is dead from that moment.
    let res = app.refresh(&t.refresh).await;
    assert_eq!(res.status(), 200);
    let t2 = support::Tokens::from(res.json::<Value>().await.unwrap());
    assert_ne!(t2.refresh, t.refresh);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &t2.access).await.status(),
        200
    );

    // Presenting the rotated token again is reuse: the whole family dies,
    // the newest refresh token and the session's access tokens included.
    let reuse = app.refresh(&t.refresh).await;
    assert_eq!(reuse.status(), 401);
    assert_eq!(app.refresh(&t2.refresh).await.status(), 401);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &t2.access).await.status(),
        401
    );

    // Logout ends a fresh session at once.
    let t3 = app.admin().await;
    let out = app
        .post_auth("/api/v1/auth/logout", &t3.access, &json!({}))
        .await;
    assert_eq!(out.status(), 204);
    let after = app.get_auth("/api/v1/users/me", &t3.access).await;
    assert_eq!(after.status(), 401);
    assert_eq!(after.headers()["www-authenticate"], "Bearer");
    assert_eq!(app.refresh(&t3.refresh).await.status(), 401);
    app.stop().await;
}

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&B64URL.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

fn assemble(header: &Value, payload: &Value, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        B64URL.encode(serde_json::to_vec(header).unwrap()),
        B64URL.encode(serde_json::to_vec(payload).unwrap())
    )
}

async fn forged_and_invalid_tokens_are_401(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let t = app.admin().await;
    let header = part(&t.access, 0);
    let claims = part(&t.access, 1);
    let sig = t.access.split('.').nth(2).unwrap().to_owned();
    let services = app.services().await;
    let now = chrono::Utc::now().timestamp();
    let signed = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        edit(&mut c);
        let c: isms_domain::auth::AccessClaims = serde_json::from_value(c).unwrap();
        services.keys.sign(&c).unwrap()
    };

    let mut forged: Vec<(&str, String)> = vec![
        (
            "expired",
            signed(&|c| {
                c["iat"] = json!(now - 4000);
                c["nbf"] = json!(now - 4000);
                c["exp"] = json!(now - 2000);
            }),
        ),
        (
            "not yet valid",
            signed(&|c| {
                c["nbf"] = json!(now + 600);
                c["iat"] = json!(now + 600);
            }),
        ),
        (
            "wrong audience",
            signed(&|c| c["aud"] = json!("someone-else")),
        ),
        ("wrong issuer", signed(&|c| c["iss"] = json!("evil"))),
    ];
    let mut none = header.clone();
    none["alg"] = json!("none");
    forged.push(("alg none", assemble(&none, &claims, "")));
    let public = B64URL
        .decode(
            app.client
                .get(app.url("/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["keys"][0]["x"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let input = format!(
        "{}.{}",
        B64URL.encode(serde_json::to_vec(&hs).unwrap()),
        B64URL.encode(serde_json::to_vec(&claims).unwrap())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&public).unwrap();
    mac.update(input.as_bytes());
    forged.push((
        "HS256 keyed with the public key",
        format!("{input}.{}", B64URL.encode(mac.finalize().into_bytes())),
    ));
    let mut unknown = header.clone();
    unknown["kid"] = json!("01a20000-0000-7000-8000-000000000000");
    forged.push(("unknown kid", assemble(&unknown, &claims, &sig)));
    let mut tampered = claims.clone();
    tampered["sub"] = json!(uuid::Uuid::now_v7().to_string());
    forged.push(("tampered payload", assemble(&header, &tampered, &sig)));
    forged.push(("garbage", "not.a.jwt".to_owned()));

    for (what, token) in forged {
        let res = app.get_auth("/api/v1/users/me", &token).await;
        assert_eq!(res.status(), 401, "{what} was accepted");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{what}");
    }
    // The genuine token still works.
    assert_eq!(
        app.get_auth("/api/v1/users/me", &t.access).await.status(),
        200
    );
    app.stop().await;
}

async fn signing_key_rotation_keeps_old_tokens_valid(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let old = app.admin().await;
    let old_kid = part(&old.access, 0)["kid"].as_str().unwrap().to_owned();

    // Rotate from another process's point of view (the CLI's code path).
    let services = app.services().await;
    let new_kid = services.keys.rotate(&[]).await.unwrap();
    assert_ne!(new_kid, old_kid);

    // A token signed with the new key is accepted by the running server
    // (it reloads keys on meeting an unknown kid, rate-limited).
    let claims: isms_domain::auth::AccessClaims =
        serde_json::from_value(part(&old.access, 1)).unwrap();
    let fresh = services.keys.sign(&claims).unwrap();
    assert_eq!(part(&fresh, 0)["kid"], new_kid.as_str());
    let mut ok = false;
    for _ in 0..20 {
        if app.get_auth("/api/v1/users/me", &fresh).await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ok, "token signed with the rotated key never accepted");

    // The old token stays valid until it expires, and the JWKS serves both.
    assert_eq!(
        app.get_auth("/api/v1/users/me", &old.access).await.status(),
        200
    );
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    app.stop().await;
}

async fn tenants_are_isolated(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let a = app.admin().await;
    let a_user = app
        .create_user(&a.access, "alice@a.example", "analyst", PW)
        .await;
    let (_, b) = app.other_tenant("Tenant B", "bob-admin@b.example").await;

    for res in [
        app.get_auth(&format!("/api/v1/users/{a_user}"), &b.access)
            .await,
        app.patch_auth(
            &format!("/api/v1/users/{a_user}"),
            &b.access,
            &json!({ "display_name": "pwned" }),
        )
        .await,
        app.delete_auth(&format!("/api/v1/users/{a_user}"), &b.access)
            .await,
    ] {
        assert_eq!(res.status(), 404);
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "not_found");
    }
    // B's list never shows A's users.
    let list: Value = app
        .get_auth("/api/v1/users", &b.access)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["email"] != "alice@a.example")
    );
    // And A's user is untouched.
    let still: Value = app
        .get_auth(&format!("/api/v1/users/{a_user}"), &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["display_name"], "alice");
    app.stop().await;
}

async fn rbac_limits_what_roles_do(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let viewer_id = app
        .create_user(&admin.access, "vera@x.example", "viewer", PW)
        .await;
    app.create_user(&admin.access, "manny@x.example", "manager", PW)
        .await;
    let viewer = app.login("vera@x.example", PW).await;
    let manager = app.login("manny@x.example", PW).await;

    // A viewer cannot raise its own role, but may rename itself.
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{viewer_id}"),
            &viewer.access,
            &json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{viewer_id}"),
            &viewer.access,
            &json!({ "display_name": "Vera" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A viewer cannot list users; a manager can.
    assert_eq!(
        app.get_auth("/api/v1/users", &viewer.access).await.status(),
        403
    );
    assert_eq!(
        app.get_auth("/api/v1/users", &manager.access)
            .await
            .status(),
        200
    );
    // A manager cannot create users at all, let alone an admin.
    let res = app
        .post_auth(
            "/api/v1/users",
            &manager.access,
            &json!({ "email": "evil@x.example", "role": "admin", "password": PW }),
        )
        .await;
    assert_eq!(res.status(), 403);
    // A viewer cannot read another user.
    let admin_id = app
        .get_auth("/api/v1/users/me", &admin.access)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get_auth(&format!("/api/v1/users/{admin_id}"), &viewer.access)
            .await
            .status(),
        403
    );
    // A role change takes effect on the next request, even with the old token.
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{viewer_id}"),
            &admin.access,
            &json!({ "role": "manager" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_auth("/api/v1/users", &viewer.access).await.status(),
        200
    );
    app.stop().await;
}

async fn deactivated_and_deleted_users_lose_access_at_once(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let id = app
        .create_user(&admin.access, "dee@x.example", "analyst", PW)
        .await;
    let dee = app.login("dee@x.example", PW).await;
    assert_eq!(
        app.get_auth("/api/v1/users/me", &dee.access).await.status(),
        200
    );
    let res = app
        .patch_auth(
            &format!("/api/v1/users/{id}"),
            &admin.access,
            &json!({ "is_active": false }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &dee.access).await.status(),
        401
    );
    assert_eq!(app.refresh(&dee.refresh).await.status(), 401);
    assert_eq!(app.login_raw("dee@x.example", PW).await.status(), 401);

    let id2 = app
        .create_user(&admin.access, "del@x.example", "analyst", PW)
        .await;
    let del = app.login("del@x.example", PW).await;
    assert_eq!(
        app.delete_auth(&format!("/api/v1/users/{id2}"), &admin.access)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", &del.access).await.status(),
        401
    );
    assert_eq!(
        app.get_auth(&format!("/api/v1/users/{id2}"), &admin.access)
            .await
            .status(),
        404
    );
    app.stop().await;
}

async fn idle_session_is_401(backend: Backend) {
    // No session cache, so the stored last_seen_at is what counts.
    let Some(app) = TestApp::start(backend, &[("ISMS_SESSION_CACHE_SECS", "0")]).await else {
        return;
    };
    let t = app.admin().await;
    assert_eq!(
        app.get_auth("/api/v1/users/me", &t.access).await.status(),
        200
    );
    let sid = uuid::Uuid::parse_str(part(&t.access, 1)["sid"].as_str().unwrap()).unwrap();
    let two_hours_ago =
        isms_domain::time::truncate(chrono::Utc::now() - chrono::Duration::hours(2));
    app.sql(
        "UPDATE sessions SET last_seen_at = $1 WHERE id = $2",
        sid,
        two_hours_ago,
    )
    .await;
    assert_eq!(
        app.get_auth("/api/v1/users/me", &t.access).await.status(),
        401
    );
    assert_eq!(app.refresh(&t.refresh).await.status(), 401);
    app.stop().await;
}

async fn concurrent_refresh_double_submit_has_one_winner(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    for _ in 0..3 {
        let t = app.admin().await;
        let (a, b) = tokio::join!(app.refresh(&t.refresh), app.refresh(&t.refresh));
        let ok = [a.status(), b.status()]
            .iter()
            .filter(|s| s.as_u16() == 200)
            .count();
        assert_eq!(ok, 1, "statuses {} and {}", a.status(), b.status());
    }
    app.stop().await;
}

async fn no_user_enumeration(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let (admin, _mfa) = app.admin_with_mfa().await;
    let id = app
        .create_user(&admin.access, "gone@x.example", "viewer", PW)
        .await;
    app.delete_auth(&format!("/api/v1/users/{id}"), &admin.access)
        .await;
    let id = app
        .create_user(&admin.access, "off@x.example", "viewer", PW)
        .await;
    app.patch_auth(
        &format!("/api/v1/users/{id}"),
        &admin.access,
        &json!({ "is_active": false }),
    )
    .await;

    let mut bodies = Vec::new();
    for (email, pw) in [
        ("nobody@x.example", PW),
        (ADMIN_EMAIL, "wrong password entirely"),
        ("gone@x.example", PW),
        ("off@x.example", PW),
        ("not-an-email", PW),
    ] {
        let res = app.login_raw(email, pw).await;
        assert_eq!(res.status(), 401, "{email}");
        let mut body: Value = res.json().await.unwrap();
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(bodies[0]["code"], "invalid_credentials");
    app.stop().await;
}

async fn users_api_and_password_change(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;

    // Create: 201, Location, no hash, policy enforced, e-mail unique.
    let res = app
        .post_auth("/api/v1/users", &admin.access, &json!({ "email": "Carol@X.example", "role": "analyst", "password": PW, "display_name": "Carol" }))
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let carol: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/users/{}", carol["id"].as_str().unwrap())
    );
    assert_eq!(carol["email"], "carol@x.example");
    assert!(carol.get("password_hash").is_none());
    let dup = app
        .post_auth(
            "/api/v1/users",
            &admin.access,
            &json!({ "email": "carol@x.example", "role": "viewer", "password": PW }),
        )
        .await;
    assert_eq!(dup.status(), 409);
    let weak = app
        .post_auth(
            "/api/v1/users",
            &admin.access,
            &json!({ "email": "dan@x.example", "role": "viewer", "password": "password1234" }),
        )
        .await;
    assert_eq!(weak.status(), 422);
    let weak: Value = weak.json().await.unwrap();
    assert_eq!(weak["details"]["fields"][0]["code"], "password_common");
    let mass = app
        .post_auth("/api/v1/users", &admin.access, &json!({ "email": "eve@x.example", "role": "viewer", "password": PW, "tenant_id": uuid::Uuid::now_v7() }))
        .await;
    assert_eq!(mass.status(), 422);

    // Pagination: limit and cursor walk every user exactly once.
    for i in 0..4 {
        app.create_user(&admin.access, &format!("u{i}@x.example"), "viewer", PW)
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".to_owned(),
        };
        let page: Value = app
            .get_auth(&path, &admin.access)
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(seen.len(), 6);
    assert_eq!(dedup.len(), 6);
    assert_eq!(
        app.get_auth("/api/v1/users?limit=0", &admin.access)
            .await
            .status(),
        422
    );
    assert_eq!(
        app.get_auth("/api/v1/users?limit=101", &admin.access)
            .await
            .status(),
        422
    );
    assert_eq!(
        app.get_auth("/api/v1/users?cursor=%%%", &admin.access)
            .await
            .status(),
        400
    );
    assert_eq!(
        app.get_auth("/api/v1/users/not-a-uuid", &admin.access)
            .await
            .status(),
        400
    );

    // Password change: wrong current password refused; success ends the
    // user's other sessions but keeps this one.
    let s1 = app.login("carol@x.example", PW).await;
    let s2 = app.login("carol@x.example", PW).await;
    // It is a sensitive action: without a second factor, none.
    let res = app
        .post_auth(
            "/api/v1/users/me/password",
            &s1.access,
            &json!({ "current_password": PW, "new_password": "another fine passphrase" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "mfa_enrollment_required"
    );
    app.enroll_mfa(&s1.access).await;
    let bad = app
        .post_auth("/api/v1/users/me/password", &s1.access, &json!({ "current_password": "nope nope nope", "new_password": "another fine passphrase" }))
        .await;
    assert_eq!(bad.status(), 422);
    let ok = app
        .post_auth(
            "/api/v1/users/me/password",
            &s1.access,
            &json!({ "current_password": PW, "new_password": "another fine passphrase" }),
        )
        .await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &s1.access).await.status(),
        200
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", &s2.access).await.status(),
        401
    );
    assert_eq!(app.login_raw("carol@x.example", PW).await.status(), 401);
    let res = app
        .login_raw("carol@x.example", "another fine passphrase")
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "mfa_required");
    let _ = ADMIN_PASSWORD;
    app.stop().await;
}

async fn oauth2_token_endpoint(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t = support::Tokens::from(res.json::<Value>().await.unwrap());
    assert_eq!(
        app.get_auth("/api/v1/users/me", &t.access).await.status(),
        200
    );
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t.refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("username", ADMIN_EMAIL), ("password", "wrong wrong wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({ "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    app.stop().await;
}

async fn sessions_list_and_revoke(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    app.create_user(&admin.access, "sam@x.example", "analyst", PW)
        .await;
    let a = app.login("sam@x.example", PW).await;
    let b = app.login("sam@x.example", PW).await;
    let list: Value = app
        .get_auth("/api/v1/auth/sessions", &a.access)
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(items.iter().all(|s| s["ip"] == "127.0.0.1"));
    let b_sid = part(&b.access, 1)["sid"].as_str().unwrap().to_owned();

    // Own session revoked: b stops working, a keeps working.
    assert_eq!(
        app.delete_auth(&format!("/api/v1/auth/sessions/{b_sid}"), &a.access)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", &b.access).await.status(),
        401
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", &a.access).await.status(),
        200
    );

    // Another user's session: 404 for a peer, revocable by an admin.
    let a_sid = part(&a.access, 1)["sid"].as_str().unwrap().to_owned();
    app.create_user(&admin.access, "pat@x.example", "analyst", PW)
        .await;
    let pat = app.login("pat@x.example", PW).await;
    assert_eq!(
        app.delete_auth(&format!("/api/v1/auth/sessions/{a_sid}"), &pat.access)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.delete_auth(&format!("/api/v1/auth/sessions/{a_sid}"), &admin.access)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", &a.access).await.status(),
        401
    );
    app.stop().await;
}
