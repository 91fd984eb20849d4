//! GDPR consent records over real HTTP, on SQLite and PostgreSQL:
//! recorded with their lawful basis and evidence, validated, listed,
//! withdrawn once, tenant-scoped, audited without their contents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "a long enough password 1";

on_both_backends!(consents_are_recorded_listed_and_withdrawn_once);

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

async fn consents_are_recorded_listed_and_withdrawn_once(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    let user = app.create_user(t, "subject@x.example", "viewer", PW).await;
    let viewer = app.login("subject@x.example", PW).await;
    let (_, other) = app.other_tenant("gdpr-other", "boss@gdpr.example").await;
    let foreign = app
        .create_user(&other.access, "f@gdpr.example", "viewer", PW)
        .await;
    let path = "/api/v1/gdpr/consents";
    let given = "2026-01-10T09:00:00Z";

    let draft = json!({
        "subject": { "type": "external", "id": "cust-1042" },
        "purpose": "newsletter",
        "lawful_basis": "consent",
        "given_at": given,
        "evidence": "signup form v3",
    });
    // Refused: no evidence for consent, an e-mail as id, another tenant's
    // user, a time in the future, unknown fields; and viewers.
    let mut bad = Vec::new();
    for (field, value) in [
        ("evidence", json!("")),
        (
            "subject",
            json!({ "type": "external", "id": "jane@x.example" }),
        ),
        ("subject", json!({ "type": "user", "id": foreign })),
        ("given_at", json!("2999-01-01T00:00:00Z")),
        ("lawful_basis", json!("because")),
        ("colour", json!("red")),
    ] {
        let mut b = draft.clone();
        b[field] = value;
        bad.push(b);
    }
    for b in &bad {
        assert_eq!(app.post_auth(path, t, b).await.status(), 422, "{b}");
    }
    assert_eq!(
        app.post_auth(path, &viewer.access, &draft).await.status(),
        403
    );
    let empty = json_of(app.get_auth(path, t).await, 200).await;
    assert!(empty["items"].as_array().unwrap().is_empty());

    let res = app.post_auth(path, t, &draft).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let external: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("{path}/{}", external["id"].as_str().unwrap())
    );
    assert_eq!(external["withdrawn_at"], Value::Null);
    assert_eq!(
        external["subject"],
        json!({ "type": "external", "id": "cust-1042" })
    );
    let of_user = json_of(
        app.post_auth(
            path,
            t,
            &json!({
                "subject": { "type": "user", "id": user },
                "purpose": "employment records",
                "lawful_basis": "contract",
                "given_at": given,
            }),
        )
        .await,
        201,
    )
    .await;
    let listed = json_of(app.get_auth(&format!("{path}?limit=1"), t).await, 200).await;
    assert_eq!(listed["items"][0], external);
    let cursor = listed["next_cursor"].as_str().unwrap();
    let rest = json_of(
        app.get_auth(&format!("{path}?cursor={cursor}"), t).await,
        200,
    )
    .await;
    assert_eq!(rest["items"][0], of_user);
    let theirs = json_of(app.get_auth(path, &other.access).await, 200).await;
    assert!(theirs["items"].as_array().unwrap().is_empty());

    // Withdrawn once; another tenant cannot.
    let withdraw = format!("{location}/withdraw");
    assert_eq!(
        app.post_auth(&withdraw, &other.access, &json!({}))
            .await
            .status(),
        404
    );
    let done = json_of(app.post_auth(&withdraw, t, &json!({})).await, 200).await;
    assert!(done["withdrawn_at"].is_string());
    assert_eq!(app.post_auth(&withdraw, t, &json!({})).await.status(), 409);
    let listed = json_of(app.get_auth(path, t).await, 200).await;
    assert_eq!(listed["items"][0]["withdrawn_at"], done["withdrawn_at"]);

    for (kind, n) in [("consent_recorded", 2), ("consent_withdrawn", 1)] {
        let events = json_of(
            app.get_auth(&format!("/api/v1/audit/events?event_type={kind}"), t)
                .await,
            200,
        )
        .await;
        assert_eq!(events["items"].as_array().unwrap().len(), n, "{kind}");
        assert!(
            !events.to_string().contains("signup form"),
            "evidence stays out of the log"
        );
    }
}
