//! Per-tenant risk matrices over real HTTP, on SQLite and PostgreSQL: the
//! default until a tenant sets its own, validated, admin only, audited,
//! applied to what is scored next and to no other tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Backend, TestApp};

const PW: &str = "risk matrix password 1";
const MATRIX: &str = "/api/v1/risk/matrix";

on_both_backends!(a_tenant_matrix_scores_what_comes_next);

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// A new exposure of a fresh asset (confidentiality 3, internal) to a
/// `possible` confidentiality threat with no vulnerability to go through
/// (one likelihood step down): 3 × 2 = 6 on the default matrix.
async fn exposure(app: &TestApp, token: &str, name: &str) -> Value {
    let asset = json_of(
        app.post_auth(
            "/api/v1/assets",
            token,
            &json!({
                "name": name, "asset_type": "information", "classification": "internal",
                "confidentiality": 3, "integrity": 1, "availability": 1, "business_value": 2,
            }),
        )
        .await,
        201,
    )
    .await;
    let threat = json_of(
        app.post_auth(
            "/api/v1/threats",
            token,
            &json!({ "name": format!("{name} threat"), "category": "deliberate",
                     "targets": ["confidentiality"], "base_likelihood": "possible" }),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.post_auth(
            &format!("/api/v1/assets/{}/exposures", asset["id"].as_str().unwrap()),
            token,
            &json!({ "threat_id": threat["id"] }),
        )
        .await,
        201,
    )
    .await
}

async fn a_tenant_matrix_scores_what_comes_next(backend: Backend) {
    let Some(app) = TestApp::start(backend, &[]).await else {
        return;
    };
    let admin = app.admin().await;
    let t = &admin.access;
    app.create_user(t, "mgr@x.example", "manager", PW).await;
    let manager = app.login("mgr@x.example", PW).await;
    let (_, other) = app.other_tenant("matrix-other", "boss@mx.example").await;

    let default = json_of(app.get_auth(MATRIX, &manager.access).await, 200).await;
    assert_eq!(default["impact_levels"].as_array().unwrap().len(), 4);
    assert_eq!(default["likelihood_levels"].as_array().unwrap().len(), 5);
    assert_eq!(
        default["thresholds"],
        json!({ "medium": 6, "high": 10, "critical": 15 })
    );
    let before = exposure(&app, t, "Before").await;
    assert_eq!(before["inherent_score"], 6, "{before}");
    assert_eq!(before["inherent_level"], "medium", "{before}");

    // A stricter matrix: 6 and above is critical.
    let mut strict = default.clone();
    strict["thresholds"] = json!({ "medium": 2, "high": 4, "critical": 6 });
    assert_eq!(
        app.put_auth(MATRIX, &manager.access, &strict)
            .await
            .status(),
        403
    );
    let mut bad = default.clone();
    bad["thresholds"] = json!({ "medium": 10, "high": 4, "critical": 6 });
    assert_eq!(app.put_auth(MATRIX, t, &bad).await.status(), 422);
    let mut bad = default.clone();
    bad["impact_levels"] = json!(["only"]);
    assert_eq!(app.put_auth(MATRIX, t, &bad).await.status(), 422);
    let mut bad = default.clone();
    bad["colour"] = json!("red");
    assert_eq!(app.put_auth(MATRIX, t, &bad).await.status(), 422);
    assert_eq!(
        json_of(app.get_auth(MATRIX, t).await, 200).await,
        default,
        "refused puts change nothing"
    );

    let stored = json_of(app.put_auth(MATRIX, t, &strict).await, 200).await;
    assert_eq!(stored, strict);
    assert_eq!(
        json_of(app.get_auth(MATRIX, &manager.access).await, 200).await,
        strict
    );
    let after = exposure(&app, t, "After").await;
    assert_eq!(after["inherent_score"], 6);
    assert_eq!(after["inherent_level"], "critical", "{after}");
    // Stored scores keep their matrix until their asset is assessed again.
    let kept = json_of(
        app.get_auth(
            &format!("/api/v1/risks/{}", before["id"].as_str().unwrap()),
            t,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(kept["inherent_level"], "medium");
    json_of(
        app.post_auth("/api/v1/assessments/run", t, &json!({}))
            .await,
        200,
    )
    .await;

    // Another tenant keeps the default.
    assert_eq!(
        json_of(app.get_auth(MATRIX, &other.access).await, 200).await,
        default
    );
    let events = json_of(
        app.get_auth("/api/v1/audit/events?event_type=risk_matrix_changed", t)
            .await,
        200,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}
