//! Shared by the full-server tests: a real isms server (same wiring as
//! `main`) on 127.0.0.1:0 over a fresh database of the chosen backend.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use isms::config::Config;
use isms::server::RunningServer;
use isms_store::testing::TestDatabase;
use serde_json::{Value, json};

pub const MASTER_KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const ADMIN_EMAIL: &str = "admin@isms.local";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each named async
/// `fn(Backend)`, so every body runs on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Backend::Postgres).await;
                }
            )+
        }
    };
}

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub db: TestDatabase,
    pub config: Config,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub fn base_env(db: &TestDatabase, dir: &std::path::Path) -> BTreeMap<String, String> {
    [
        ("ISMS_BIND", "127.0.0.1:0".to_owned()),
        ("ISMS_DATABASE_URL", db.url().to_owned()),
        ("ISMS_DATA_DIR", dir.display().to_string()),
        ("ISMS_MASTER_KEY", MASTER_KEY_B64.to_owned()),
        ("ISMS_PASSWORD_HASH_CONCURRENCY", "2".to_owned()),
        ("ISMS_DB_MAX_CONNECTIONS", "5".to_owned()),
        // Suites log in far more often than 10 times a minute; the
        // rate-limit tests switch it back on.
        ("ISMS_RATE_LIMIT_ENABLED", "false".to_owned()),
        // Counters in the shared Redis outlive a test (and a CI run): each
        // server gets its own namespace unless a test shares one on purpose.
        ("ISMS_REDIS_KEY_PREFIX", redis_prefix()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A Redis key namespace nobody else uses.
pub fn redis_prefix() -> String {
    format!("isms-test:{}:", uuid::Uuid::now_v7().simple())
}

impl TestApp {
    /// Starts a server, or `None` when this backend is skipped here.
    pub async fn start(backend: Backend, overrides: &[(&str, &str)]) -> Option<Self> {
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres().await?,
        };
        let dir = tempfile::tempdir().unwrap();
        let mut env = base_env(&db, dir.path());
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = Config::from_sources(None, &env).unwrap();
        let mut out = Vec::new();
        let server = isms::server::spawn(config.clone(), &mut out).await.unwrap();
        let app = Self {
            server: Some(server),
            db,
            config,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            _dir: dir,
        };
        // Replace the bootstrap admin's one-time password.
        let printed = String::from_utf8(out).unwrap();
        let one_time = printed
            .lines()
            .find_map(|l| l.trim().strip_prefix("password:"))
            .unwrap()
            .trim()
            .to_owned();
        let tokens = app.login(ADMIN_EMAIL, &one_time).await;
        let res = app
            .post_auth(
                "/api/v1/users/me/password",
                &tokens.access,
                &json!({ "current_password": one_time, "new_password": ADMIN_PASSWORD }),
            )
            .await;
        assert_eq!(res.status(), 204);
        Some(app)
    }

    pub fn url(&self, path: &str) -> String {
        self.server.as_ref().unwrap().url(path)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Tokens {
        let res = self.login_raw(email, password).await;
        assert_eq!(res.status(), 200, "login as {email} failed");
        Tokens::from(res.json::<Value>().await.unwrap())
    }

    pub async fn admin(&self) -> Tokens {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap()
    }

    /// Creates a user through the API as `admin_token`; returns its id.
    pub async fn create_user(
        &self,
        admin_token: &str,
        email: &str,
        role: &str,
        password: &str,
    ) -> String {
        let res = self
            .post_auth(
                "/api/v1/users",
                admin_token,
                &json!({ "email": email, "role": role, "password": password }),
            )
            .await;
        assert_eq!(res.status(), 201, "creating {email}");
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Application services over the same database (for setting up other
    /// tenants and for signing test tokens with the server's keys).
    pub async fn services(&self) -> isms::wiring::Services {
        isms::wiring::connect(&self.config, false).await.unwrap()
    }

    /// A second tenant with an admin; returns (tenant id, admin tokens).
    pub async fn other_tenant(&self, name: &str, email: &str) -> (String, Tokens) {
        let services = self.services().await;
        let tenant = services.app.tenants.create(name).await.unwrap();
        services
            .app
            .users
            .create(
                isms_app::users::CreateUser {
                    tenant_id: tenant.id,
                    email: email.to_owned(),
                    display_name: None,
                    role: isms_domain::Role::Admin,
                    password: Some(secrecy::SecretString::from(ADMIN_PASSWORD)),
                },
                &services.app.audit,
            )
            .await
            .unwrap();
        (
            tenant.id.to_string(),
            self.login(email, ADMIN_PASSWORD).await,
        )
    }

    /// One count from the test database; `$1` is bound to `id`.
    pub async fn count(&self, sql: &'static str, id: uuid::Uuid) -> i64 {
        match self.config.database_url.backend() {
            isms_store::Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(self.db.url()).await.unwrap();
                let n = sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                n
            }
            isms_store::Backend::Postgres => {
                let pool = sqlx::PgPool::connect(self.db.url()).await.unwrap();
                let n = sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                n
            }
        }
    }

    /// Runs one SQL statement against the test database.
    pub async fn sql(
        &self,
        statement: &'static str,
        bind_uuid: uuid::Uuid,
        bind_time: chrono::DateTime<chrono::Utc>,
    ) {
        match self.config.database_url.backend() {
            isms_store::Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(self.db.url()).await.unwrap();
                sqlx::query(statement)
                    .bind(bind_time)
                    .bind(bind_uuid)
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
            isms_store::Backend::Postgres => {
                let pool = sqlx::PgPool::connect(self.db.url()).await.unwrap();
                sqlx::query(statement)
                    .bind(bind_time)
                    .bind(bind_uuid)
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
        }
    }
}

/// A confirmed TOTP enrolment: the secret (to compute codes) and the
/// recovery codes.
pub struct Mfa {
    pub secret: isms_domain::totp::TotpSecret,
    pub recovery_codes: Vec<String>,
}

impl Mfa {
    /// The code for the time step `offset` steps from now (the server
    /// accepts -1, 0 and +1, each step once).
    pub fn code(&self, offset: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        self.secret.code_at(now + offset * 30)
    }

    /// Spends one recovery code (for tests that need more second factors
    /// than the ±1-step window gives within one step).
    pub fn recovery(&mut self) -> String {
        self.recovery_codes.pop().unwrap()
    }
}

impl TestApp {
    /// Enrols TOTP for the caller of `token` and confirms it with the
    /// previous step's code; the session is then fresh for step-up.
    pub async fn enroll_mfa(&self, token: &str) -> Mfa {
        let res = self
            .post_auth("/api/v1/auth/mfa/totp/enroll", token, &json!({}))
            .await;
        assert_eq!(res.status(), 200, "enroll");
        let body: Value = res.json().await.unwrap();
        let secret =
            isms_domain::totp::TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
        let now = chrono::Utc::now().timestamp();
        let res = self
            .post_auth(
                "/api/v1/auth/mfa/totp/confirm",
                token,
                &json!({ "code": secret.code_at(now - 30) }),
            )
            .await;
        assert_eq!(res.status(), 200, "confirm");
        let body: Value = res.json().await.unwrap();
        let recovery_codes = body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        Mfa {
            secret,
            recovery_codes,
        }
    }

    /// The bootstrap admin with MFA enrolled in this session, so that
    /// sensitive actions (role changes, deactivation, deletion) pass
    /// step-up. Later admin logins need `login_mfa`.
    pub async fn admin_with_mfa(&self) -> (Tokens, Mfa) {
        let admin = self.admin().await;
        let mfa = self.enroll_mfa(&admin.access).await;
        (admin, mfa)
    }

    /// A full MFA login, spending a recovery code as the second factor.
    pub async fn login_mfa(&self, email: &str, password: &str, mfa: &mut Mfa) -> Tokens {
        let res = self.login_raw(email, password).await;
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "mfa_required");
        let res = self
            .client
            .post(self.url("/api/v1/auth/mfa/verify"))
            .json(&json!({ "mfa_token": body["mfa_token"], "code": mfa.recovery() }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "mfa verify");
        Tokens::from(res.json::<Value>().await.unwrap())
    }
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl From<Value> for Tokens {
    fn from(body: Value) -> Self {
        Self {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
            body,
        }
    }
}

pub fn shared<T>(t: T) -> Arc<T> {
    Arc::new(t)
}

impl TestApp {
    /// Another server on this app's database with the same configuration
    /// (as a second instance behind a load balancer would run); stop it
    /// with `RunningServer::stop`.
    pub async fn another_instance(&self) -> RunningServer {
        let mut out = Vec::new();
        let server = isms::server::spawn(self.config.clone(), &mut out)
            .await
            .unwrap();
        assert!(out.is_empty(), "the database was provisioned already");
        server
    }
}
