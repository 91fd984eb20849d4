//! The per-test context and builders for domain values.

use std::ops::Deref;
use std::time::Duration;

use isms_domain::auth::{RefreshTokenRecord, SigningKeyRecord};
use isms_domain::email::Email;
use isms_domain::ids::{SessionId, TenantId, UserId};
use isms_domain::role::Role;
use isms_domain::session::{Session, SessionPolicy};
use isms_domain::tenant::{Tenant, TenantName};
use isms_domain::time::{Timestamp, now};
use isms_domain::user::{NewUser, PasswordHash, User};
use isms_store::Store;
use isms_store::testing::TestDatabase;

/// A migrated store on a database of its own. Dereferences to the `Store`;
/// the database lives (and, for PostgreSQL, is dropped) with the context.
pub struct Ctx {
    store: Store,
    db: TestDatabase,
}

impl Ctx {
    pub async fn new(db: TestDatabase) -> Self {
        let store = Store::connect(&db.options())
            .await
            .expect("connect to the test database");
        with_field_crypto(&store);
        store.migrate().await.expect("migrate the test database");
        Self { store, db }
    }

    /// A second, independently connected store on the same database, as a
    /// second server process would have.
    pub async fn connect_again(&self) -> Store {
        let store = Store::connect(&self.db.options())
            .await
            .expect("connect a second store");
        with_field_crypto(&store);
        store
    }

    pub async fn finish(self) {
        self.store.close().await;
    }
}

/// The suite's master key (a fixed test value).
pub const MASTER_KEY: [u8; 32] = [7; 32];

/// Real field encryption (the infra key service) over the store's own key
/// tables, as the server wires it.
pub fn with_field_crypto(store: &Store) {
    let master = std::sync::Arc::new(isms_infra::MasterKey::from_bytes(&MASTER_KEY).unwrap());
    let keys = isms_infra::crypto::KeyService::new(
        store.data_keys(),
        store.server_keys(),
        master,
        isms_domain::crypto::KeyPolicy::default(),
    );
    store.set_field_crypto(std::sync::Arc::new(keys));
}

impl Deref for Ctx {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// Asserts that a `Result` failed with an error matching the pattern.
#[macro_export]
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(,)?) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected Err({}), got {:?}", stringify!($pattern), other),
        }
    };
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn tenant(name: &str) -> Tenant {
    Tenant::new(TenantName::parse(name).unwrap(), now())
}

/// A tenant, stored.
pub async fn stored_tenant(cx: &Ctx, name: &str) -> Tenant {
    let t = tenant(name);
    cx.tenants().create(&t, &[]).await.unwrap();
    t
}

pub fn user(tenant: TenantId, email: &str) -> User {
    User::create(
        NewUser {
            tenant_id: tenant,
            email: Email::parse(email).unwrap(),
            display_name: Some(format!("User {email}")),
            role: Role::Analyst,
            password_hash: PasswordHash::new(format!("$argon2id$v=19$fake${email}")),
            password_must_change: false,
        },
        now(),
    )
}

/// A user in `tenant`, stored.
pub async fn stored_user(cx: &Ctx, tenant: TenantId, email: &str) -> User {
    let u = user(tenant, email);
    cx.users().create(&u, &[]).await.unwrap();
    u
}

/// A stored tenant with one stored user.
pub async fn tenant_with_user(cx: &Ctx, name: &str, email: &str) -> (Tenant, User) {
    let t = stored_tenant(cx, name).await;
    let u = stored_user(cx, t.id, email).await;
    (t, u)
}

pub fn policy() -> SessionPolicy {
    SessionPolicy {
        idle_timeout: secs(3600),
        absolute_lifetime: secs(7 * 86_400),
    }
}

pub fn random_hash() -> [u8; 32] {
    rand::random()
}

/// A refresh token of `session` created at `at`, living as long as the
/// session.
pub fn refresh(session: &Session, at: Timestamp) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: uuid::Uuid::now_v7(),
        session_id: session.id,
        token_hash: random_hash(),
        created_at: at,
        expires_at: session.expires_at,
        rotated_at: None,
    }
}

/// A session of `user` started at `at` (every column set), stored with its
/// first refresh token.
pub async fn stored_session(
    cx: &Ctx,
    tenant: TenantId,
    user: UserId,
    at: Timestamp,
) -> (Session, RefreshTokenRecord) {
    let mut s = Session::start(
        tenant,
        user,
        Some("203.0.113.7".into()),
        Some("store-suite/1.0"),
        &policy(),
        at,
    );
    s.mfa_verified_at = Some(at);
    let first = refresh(&s, at);
    cx.sessions().create(&s, &first, &[]).await.unwrap();
    (s, first)
}

pub async fn session(cx: &Ctx, tenant: TenantId, id: SessionId) -> Session {
    cx.sessions().get(tenant, id).await.unwrap()
}

pub fn signing_key(kid: &str, created_at: Timestamp) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        public_key: format!("public {kid}").into_bytes(),
        wrapped_private_key: [kid.as_bytes(), &[0, 255, 7]].concat(),
        created_at,
        retired_at: None,
        verify_until: None,
    }
}

/// Sorts a list of values that carry ids, for order-free comparison.
pub fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

impl Ctx {
    /// Runs one raw SQL statement on the test database over a connection of
    /// its own (as someone with direct database access would).
    pub async fn exec(&self, sql: &str) -> Result<u64, String> {
        use sqlx::Connection as _;
        let url = self.db.url();
        let stmt = sqlx::AssertSqlSafe(sql.to_owned());
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(stmt)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string())
        } else {
            let mut c = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(stmt)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string())
        }
    }

    pub fn is_postgres(&self) -> bool {
        !self.db.url().starts_with("sqlite:")
    }
}

/// A SQL literal of a UUID as each backend stores it.
fn uuid_literal_for(url: &str, id: uuid::Uuid) -> String {
    if url.starts_with("sqlite:") {
        format!("X'{}'", id.simple())
    } else {
        format!("'{id}'::uuid")
    }
}

impl Ctx {
    pub fn uuid_literal(&self, id: uuid::Uuid) -> String {
        uuid_literal_for(self.db.url(), id)
    }

    /// The single text column of every row `sql` returns.
    pub async fn exec_rows(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection as _;
        let url = self.db.url();
        let stmt = sqlx::AssertSqlSafe(sql.to_owned());
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(stmt).fetch_all(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(stmt).fetch_all(&mut c).await.unwrap()
        }
    }

    /// Another empty database of the same backend.
    pub async fn fresh_database(&self) -> FreshDb {
        let db = if self.is_postgres() {
            TestDatabase::postgres()
                .await
                .expect("PostgreSQL is configured")
        } else {
            TestDatabase::sqlite()
        };
        FreshDb { db }
    }
}

/// An unmigrated database with raw SQL access.
pub struct FreshDb {
    db: TestDatabase,
}

impl FreshDb {
    pub fn options(&self) -> isms_store::StoreOptions {
        self.db.options()
    }

    pub fn uuid_literal(&self, id: uuid::Uuid) -> String {
        uuid_literal_for(self.db.url(), id)
    }

    pub async fn exec(&self, sql: &str) -> Result<u64, String> {
        use sqlx::Connection as _;
        let url = self.db.url();
        let stmt = sqlx::AssertSqlSafe(sql.to_owned());
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(stmt)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string())
        } else {
            let mut c = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(stmt)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string())
        }
    }
}
