#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PostgreSQL row-level security, seen from a least-privilege role (a
//! superuser would bypass it): the store still works for its own tenant,
//! another tenant's rows are invisible, and a connection that sets no
//! tenant scope sees nothing at all.

use std::time::Duration;

use isms_domain::email::Email;
use isms_domain::ports::RepoError;
use isms_domain::role::Role;
use isms_domain::session::{Session, SessionPolicy};
use isms_domain::tenant::{Tenant, TenantName};
use isms_domain::time::now;
use isms_domain::user::{NewUser, PasswordHash, User};
use isms_store::testing::{DATABASE_URL_VAR, TestDatabase};
use isms_store::{DatabaseUrl, Store, StoreOptions};
use rand::Rng;
use sqlx::Connection;

/// A login role with table privileges only; dropped (after the database)
/// even when the test fails.
struct AppRole {
    admin_url: String,
    name: String,
}

impl Drop for AppRole {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
                    .execute(&mut c)
                    .await
                    .unwrap();
            });
        })
        .join();
    }
}

fn field_crypto(store: &Store) {
    let master = std::sync::Arc::new(isms_infra::MasterKey::from_bytes(&[7; 32]).unwrap());
    store.set_field_crypto(std::sync::Arc::new(isms_infra::crypto::KeyService::new(
        store.data_keys(),
        store.server_keys(),
        master,
        isms_domain::crypto::KeyPolicy::default(),
    )));
}

fn user(tenant: &Tenant, email: &str) -> User {
    User::create(
        NewUser {
            tenant_id: tenant.id,
            email: Email::parse(email).unwrap(),
            display_name: None,
            role: Role::Analyst,
            password_hash: PasswordHash::new("$argon2id$test".into()),
            password_must_change: false,
        },
        now(),
    )
}

#[tokio::test]
async fn least_privilege_role_sees_only_its_scope() {
    let Some(admin_url) = isms_store::testing::service_url(DATABASE_URL_VAR) else {
        return;
    };
    let role = AppRole {
        admin_url: admin_url.clone(),
        name: format!("isms_rls_{:012x}", rand::thread_rng().r#gen::<u64>() >> 16),
    };
    let db = TestDatabase::postgres().await.unwrap();

    // Schema and seed data as the owner (a superuser here).
    let owner = Store::connect(&db.options()).await.unwrap();
    field_crypto(&owner);
    owner.migrate().await.unwrap();
    let a = Tenant::new(TenantName::parse("A").unwrap(), now());
    let b = Tenant::new(TenantName::parse("B").unwrap(), now());
    owner.tenants().create(&a, &[]).await.unwrap();
    owner.tenants().create(&b, &[]).await.unwrap();
    let alice = user(&a, "alice@a.example");
    let bob = user(&b, "bob@b.example");
    owner.users().create(&alice, &[]).await.unwrap();
    owner.users().create(&bob, &[]).await.unwrap();
    {
        let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
        for stmt in [
            format!("CREATE ROLE {} LOGIN", role.name),
            format!("GRANT USAGE ON SCHEMA public TO {}", role.name),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
                role.name
            ),
            // The README's least-privilege setup: the audit tables are
            // append-only for the application by grant, not only by trigger.
            format!(
                "REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries, audit_nodes, audit_checkpoints FROM {}",
                role.name
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(stmt))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
    owner.close().await;

    // The application, connected as the least-privilege role.
    let mut url = url::Url::parse(db.url()).unwrap();
    url.set_username(&role.name).unwrap();
    let mut opts = StoreOptions::new(DatabaseUrl::parse(url.as_str()).unwrap());
    opts.max_connections = 2;
    opts.acquire_timeout = Duration::from_secs(10);
    let app = Store::connect(&opts).await.unwrap();
    field_crypto(&app);
    let users = app.users();
    assert_eq!(users.get(a.id, alice.id).await.unwrap(), alice);
    assert!(matches!(
        users.get(a.id, bob.id).await,
        Err(RepoError::NotFound)
    ));
    let listed = users
        .list(a.id, isms_domain::page::PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![alice.clone()]);
    // Deliberately cross-tenant lookups still work.
    assert_eq!(
        users.find_by_email(&bob.email).await.unwrap().map(|u| u.id),
        Some(bob.id)
    );
    // Sessions and refresh tokens are written and read within the scope.
    let policy = SessionPolicy {
        idle_timeout: Duration::from_secs(3600),
        absolute_lifetime: Duration::from_secs(86400),
    };
    let session = Session::start(a.id, alice.id, None, None, &policy, now());
    let token = isms_domain::auth::RefreshTokenRecord {
        id: uuid::Uuid::now_v7(),
        session_id: session.id,
        token_hash: rand::thread_rng().r#gen(),
        created_at: now(),
        expires_at: session.expires_at,
        rotated_at: None,
    };
    let login = isms_domain::audit::AuditRecord {
        event_type: "login_success".into(),
        tenant_id: Some(a.id),
        actor_user_id: Some(alice.id),
        session_id: Some(session.id),
        request_id: None,
        resource_type: Some("session".into()),
        resource_id: Some(session.id.to_string()),
        action: "login".into(),
        outcome: isms_domain::events::Outcome::Success,
        ip: None,
        user_agent: None,
        details: serde_json::json!({}),
        compliance_flags: vec![],
        risk_score: 1,
    };
    // The audit append runs as the role, inside the tenant scope.
    app.sessions()
        .create(&session, &token, std::slice::from_ref(&login))
        .await
        .unwrap();
    let log = isms_domain::audit::LogId::tenant(a.id);
    assert_eq!(app.audit().head(&log).await.unwrap().size, 1);
    assert_eq!(
        app.audit()
            .head(&isms_domain::audit::LogId::tenant(b.id))
            .await
            .unwrap()
            .size,
        0
    );
    assert_eq!(app.sessions().get(a.id, session.id).await.unwrap(), session);
    assert!(matches!(
        app.sessions().get(b.id, session.id).await,
        Err(RepoError::NotFound)
    ));
    assert!(
        app.sessions()
            .find_refresh(&token.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    app.close().await;

    // Raw SQL as the role: no scope, no rows; a tenant scope, its rows only.
    let mut c = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    assert_eq!(
        count("SELECT count(*) FROM users")
            .fetch_one(&mut c)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM sessions")
            .fetch_one(&mut c)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM refresh_tokens")
            .fetch_one(&mut c)
            .await
            .unwrap(),
        0
    );
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SELECT set_config('isms.tenant_id', $1, true)")
        .bind(b.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ids, vec![bob.id.as_uuid()]);
    // Writing a row into another tenant is refused by the policy.
    let smuggled = sqlx::query("UPDATE users SET role = 'viewer' WHERE id = $1")
        .bind(alice.id.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(smuggled.rows_affected(), 0);
    tx.rollback().await.unwrap();
    // The role may append to the audit log but never rewrite it.
    for sql in [
        "UPDATE audit_entries SET risk_score = 0",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "DELETE FROM audit_nodes",
        "DELETE FROM audit_checkpoints",
    ] {
        let err = sqlx::query(sql).execute(&mut c).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    c.close().await.unwrap();
    drop(db);
}

/// Every table that holds a tenant's rows is isolated by a forced policy,
/// so a table a later migration adds cannot be forgotten.
#[tokio::test]
async fn every_tenant_table_forces_row_level_security() {
    if isms_store::testing::service_url(DATABASE_URL_VAR).is_none() {
        return;
    }
    let db = TestDatabase::postgres().await.unwrap();
    let owner = Store::connect(&db.options()).await.unwrap();
    field_crypto(&owner);
    owner.migrate().await.unwrap();
    let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let tables: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
         WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    for expected in [
        "users",
        "gdpr_requests",
        "gdpr_exports",
        "gdpr_retention_policies",
        "assets",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let open: Vec<&str> = tables
        .iter()
        .filter(|(_, on, forced)| !(*on && *forced))
        .map(|t| t.0.as_str())
        .collect();
    assert!(
        open.is_empty(),
        "tables without forced row-level security: {open:?}"
    );
    c.close().await.unwrap();
}
