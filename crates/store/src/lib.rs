//! Storage adapters: SQLite (embedded default) and PostgreSQL (production),
//! both implementing the domain's repository ports. The conformance suite
//! in `tests/store_suite.rs` holds them to one behaviour.

mod audit_append;
mod audit_repos;
mod audit_rows;
mod chain;
mod compliance_repos;
mod compliance_rows;
mod crypto_repos;
mod error;
mod gdpr_repos;
mod gdpr_rows;
mod identity_repos;
mod identity_rows;
mod master_rewrap;
mod mfa_repos;
mod mfa_rows;
mod migrations;
mod pii;
mod pii_conversion;
mod postgres;
mod repos;
mod risk_repos;
mod risk_rows;
mod rows;
mod scope;
mod sqlite;
mod sqlite_session;
mod sqlite_stash;
mod sqlite_unit;
#[cfg(feature = "testing")]
pub mod testing;
mod url;

use std::sync::Arc;
use std::time::Duration;

use isms_domain::ports::{
    AlertRepository, AuditKeyRepository, AuditPolicyRepository, AuditRepository,
    BootstrapRepository, MfaRepository, SessionRepository, SigningKeyRepository, StoreHealth,
    TenantPolicyRepository, TenantRepository, UserRepository,
};

pub use crate::master_rewrap::{MasterRewrap, RewrapCounts};
pub use crate::postgres::PgStore;
pub use crate::sqlite::SqliteStore;
pub use crate::url::{Backend, DatabaseUrl, DatabaseUrlError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migrate(String),
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL: server-side `statement_timeout`.
    pub statement_timeout: Duration,
    /// SQLite: how long a writer waits for another writer's lock.
    pub busy_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Hands out the active backend as a shared trait object.
macro_rules! port {
    ($self:ident) => {
        match &$self.inner {
            Inner::Sqlite(s) => Arc::new(s.clone()),
            Inner::Postgres(s) => Arc::new(s.clone()),
        }
    };
}

#[derive(Clone)]
enum Inner {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// A connected store: the backend chosen by the URL, seen through the
/// domain's ports.
#[derive(Clone)]
pub struct Store {
    inner: Inner,
}

impl Store {
    pub async fn connect(opts: &StoreOptions) -> Result<Self, StoreError> {
        let inner = match opts.url.backend() {
            Backend::Sqlite => Inner::Sqlite(SqliteStore::connect(opts).await?),
            Backend::Postgres => Inner::Postgres(PgStore::connect(opts).await?),
        };
        Ok(Self { inner })
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations (each in a transaction; concurrent callers
    /// are serialised by sqlx's migration lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Sqlite(s) => s.migrate().await,
            Inner::Postgres(s) => s.migrate().await,
        }
    }

    /// Applies migrations up to `version` only, skipping the personal-data
    /// conversion (tests reach the schema an older release left behind).
    #[cfg(feature = "testing")]
    pub async fn migrate_through(&self, version: i64) -> Result<(), StoreError> {
        let err = |e: sqlx::migrate::MigrateError| StoreError::Migrate(e.to_string());
        match &self.inner {
            Inner::Sqlite(s) => crate::migrations::sqlite(Some(version))
                .run(&s.pool)
                .await
                .map_err(err),
            Inner::Postgres(s) => crate::migrations::postgres(Some(version))
                .run(&s.pool)
                .await
                .map_err(err),
        }
    }

    /// Field encryption for personal data (must be set before `migrate`
    /// and before any user is read or written).
    pub fn set_field_crypto(&self, crypto: Arc<dyn isms_domain::crypto::FieldCrypto>) {
        match &self.inner {
            Inner::Sqlite(s) => s.crypto.set(crypto),
            Inner::Postgres(s) => s.crypto.set(crypto),
        }
    }

    /// Rewraps every stored key from the old master key to the new one,
    /// in one transaction (see `master_rewrap.rs`).
    pub async fn rotate_master_key(
        &self,
        req: &MasterRewrap<'_>,
    ) -> Result<RewrapCounts, isms_domain::ports::RepoError> {
        match &self.inner {
            Inner::Sqlite(s) => s.rewrap_master(req).await,
            Inner::Postgres(s) => s.rewrap_master(req).await,
        }
    }

    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(s) => s.close().await,
            Inner::Postgres(s) => s.close().await,
        }
    }

    pub fn tenants(&self) -> Arc<dyn TenantRepository> {
        port!(self)
    }

    pub fn users(&self) -> Arc<dyn UserRepository> {
        port!(self)
    }

    pub fn bootstrap(&self) -> Arc<dyn BootstrapRepository> {
        port!(self)
    }

    pub fn sessions(&self) -> Arc<dyn SessionRepository> {
        port!(self)
    }

    pub fn signing_keys(&self) -> Arc<dyn SigningKeyRepository> {
        port!(self)
    }

    pub fn mfa(&self) -> Arc<dyn MfaRepository> {
        port!(self)
    }

    pub fn tenant_policies(&self) -> Arc<dyn TenantPolicyRepository> {
        port!(self)
    }

    pub fn audit(&self) -> Arc<dyn AuditRepository> {
        port!(self)
    }

    pub fn audit_keys(&self) -> Arc<dyn AuditKeyRepository> {
        port!(self)
    }

    pub fn alerts(&self) -> Arc<dyn AlertRepository> {
        port!(self)
    }

    pub fn audit_policies(&self) -> Arc<dyn AuditPolicyRepository> {
        port!(self)
    }

    pub fn data_keys(&self) -> Arc<dyn isms_domain::crypto::DataKeyRepository> {
        port!(self)
    }

    pub fn subject_keys(&self) -> Arc<dyn isms_domain::crypto::SubjectKeyRepository> {
        port!(self)
    }

    pub fn server_keys(&self) -> Arc<dyn isms_domain::crypto::ServerKeyRepository> {
        port!(self)
    }

    pub fn encrypted_fields(&self) -> Arc<dyn isms_domain::crypto::EncryptedFields> {
        port!(self)
    }

    pub fn risks(&self) -> Arc<dyn isms_domain::risk::RiskRepository> {
        port!(self)
    }

    pub fn compliance(&self) -> Arc<dyn isms_domain::compliance::ComplianceRepository> {
        port!(self)
    }

    pub fn consents(&self) -> Arc<dyn isms_domain::compliance::ConsentRepository> {
        port!(self)
    }

    pub fn gdpr(&self) -> Arc<dyn isms_domain::compliance::GdprRepository> {
        port!(self)
    }

    pub fn job_leases(&self) -> Arc<dyn isms_domain::compliance::JobLeases> {
        port!(self)
    }

    pub fn health(&self) -> Arc<dyn StoreHealth> {
        port!(self)
    }
}
