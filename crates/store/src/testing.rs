//! Per-test databases. SQLite tests get a file in a fresh temporary
//! directory; PostgreSQL tests get a database of their own, created on the
//! server named by `ISMS_TEST_DATABASE_URL` and dropped when the handle is
//! dropped (even when the test panics), so tests run in parallel and leave
//! nothing behind.
//!
//! PostgreSQL tests are skipped only when both `CI` and
//! `ISMS_TEST_DATABASE_URL` are unset; under `CI=true` a missing URL fails.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use rand::Rng;

use crate::{DatabaseUrl, StoreOptions};

pub const DATABASE_URL_VAR: &str = "ISMS_TEST_DATABASE_URL";
pub const REDIS_URL_VAR: &str = "ISMS_TEST_REDIS_URL";

/// Whether this run must exercise every backend (the `CI` variable is set
/// to anything but `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The URL of an external service for tests, `None` when the tests that
/// need it may be skipped. Panics under CI when the variable is unset.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if in_ci() => {
            panic!("{var} must be set when CI is set: this test needs the real service")
        }
        _ => {
            eprintln!("skipping: {var} is not set (set it, or CI=true, to run this test)");
            None
        }
    }
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// A database that exists for the lifetime of this handle.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("isms.db").display());
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` when PostgreSQL tests are
    /// skipped on this machine.
    pub async fn postgres() -> Option<Self> {
        let admin_url = service_url(DATABASE_URL_VAR)?;
        let name = format!("isms_test_{:016x}", rand::thread_rng().r#gen::<u64>());
        let mut admin = sqlx::postgres::PgConnection::connect_admin(&admin_url).await;
        sqlx::Executor::execute(
            &mut admin,
            sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
        )
        .await
        .expect("create test database");
        let mut url = url::Url::parse(&admin_url).expect("ISMS_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: url.to_string(),
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn options(&self) -> StoreOptions {
        let mut opts = StoreOptions::new(DatabaseUrl::parse(&self.url).expect("test URL"));
        opts.max_connections = 5;
        opts.acquire_timeout = Duration::from_secs(10);
        opts
    }
}

trait ConnectAdmin {
    async fn connect_admin(url: &str) -> sqlx::postgres::PgConnection;
}

impl ConnectAdmin for sqlx::postgres::PgConnection {
    async fn connect_admin(url: &str) -> sqlx::postgres::PgConnection {
        use sqlx::Connection;
        sqlx::postgres::PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {DATABASE_URL_VAR}: {e}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a short-lived thread with its own runtime does the cleanup.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut admin = sqlx::postgres::PgConnection::connect_admin(&admin_url).await;
                sqlx::Executor::execute(
                    &mut admin,
                    sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
                )
                .await
                .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.url);
        }
    }
}
