//! SQLite backend: the embedded default. WAL mode lets the CLI and a running
//! server share one file; the busy timeout makes writers wait for each
//! other instead of failing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{StoreError, StoreOptions};

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) crypto: crate::pii::CryptoSlot,
    pub(crate) stash: std::sync::Arc<crate::sqlite_stash::Stash>,
}

crate::repos::impl_repositories!(SqliteStore);
crate::identity_repos::impl_identity_repositories!(SqliteStore);
crate::mfa_repos::impl_mfa_repositories!(SqliteStore);
crate::audit_repos::impl_audit_repositories!(SqliteStore);
crate::pii_conversion::impl_pii_conversion!(SqliteStore);
crate::crypto_repos::impl_crypto_repositories!(SqliteStore);
crate::master_rewrap::impl_master_rewrap!(SqliteStore);
crate::compliance_repos::impl_compliance_repositories!(SqliteStore);
crate::risk_repos::impl_risk_repository!(SqliteStore);
crate::gdpr_repos::impl_gdpr_repository!(SqliteStore);

impl SqliteStore {
    /// The transaction holds SQLite's write lock from `BEGIN IMMEDIATE`, so
    /// the head row needs no lock of its own.
    pub(crate) const AUDIT_HEAD_FOR_UPDATE: &'static str =
        "SELECT size, frontier FROM audit_logs WHERE log_id = $1";

    /// No arrays: proof nodes are read by a `UNION ALL` of point lookups.
    pub(crate) const AUDIT_NODES_BY_LIST: Option<&'static str> = None;

    /// A batch of entries as one text, per entry a line `<seq> <leaf hex>
    /// <canonical>` and a line of its filter columns as JSON (neither holds
    /// a raw newline; see `scan`).
    pub(crate) const AUDIT_SCAN_AS_TEXT: Option<&'static str> = Some(
        "SELECT group_concat(seq || ' ' || lower(hex(leaf_hash)) || ' ' || canonical || char(10) || \
         json_array(lower(hex(id)), lower(hex(tenant_id)), occurred_at, event_type, \
         lower(hex(actor_user_id)), resource_type, resource_id, outcome, ip, compliance_flags, \
         risk_score), char(10)) FROM (SELECT * FROM audit_entries \
         WHERE log_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3)",
    );

    /// Unary plus: the term it prefixes can use no index. A bulk
    /// `UPDATE t ... FROM (VALUES ...) AS v` marks the tenant term and the
    /// VALUES side with it, which leaves SQLite's planner one good plan:
    /// each VALUES row looks its target up by primary key. Left to itself
    /// it scanned the whole table per statement (with a Bloom filter on
    /// the VALUES), which made a 10,000-asset assessment run quadratic.
    pub(crate) const NO_INDEX: &'static str = "+";

    /// How several writes go in one statement (see `chain.rs`).
    pub(crate) const CHAIN: crate::chain::Chain = crate::chain::Chain::Semicolons;

    /// The backend's own code paths, where a port's generic body has one.
    pub(crate) fn as_sqlite(&self) -> Option<&SqliteStore> {
        Some(self)
    }

    pub async fn connect(opts: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(opts.url.expose())
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            create_private_dir(dir)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(600)))
            // A connection to a local file cannot go stale the way a
            // network one can, and sqlx's liveness ping is a round trip to
            // the connection's worker thread: two thread wake-ups per
            // acquire, the largest cost of a short statement.
            .test_before_acquire(false)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let stash = crate::sqlite_stash::Stash::new(
            pool.clone(),
            opts.max_connections.max(1),
            opts.acquire_timeout,
        );
        Ok(Self {
            pool,
            crypto: crate::pii::CryptoSlot::default(),
            stash: std::sync::Arc::new(stash),
        })
    }

    /// A connection for a short use (SQLite has no row-level security),
    /// from the stash (see `sqlite_stash.rs`).
    pub(crate) async fn conn(
        &self,
        _scope: crate::scope::Scope,
    ) -> Result<crate::sqlite_stash::Held, isms_domain::ports::RepoError> {
        self.stash.get().await
    }

    pub(crate) async fn tx(
        &self,
        _scope: crate::scope::Scope,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, isms_domain::ports::RepoError> {
        // IMMEDIATE takes the write lock at once: a deferred transaction
        // that reads first and writes later can fail with SQLITE_BUSY when
        // another writer committed in between, which no busy timeout cures.
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(crate::error::map)
    }

    /// Migrates in two steps around the conversion of plaintext personal
    /// data (see `pii_conversion.rs`).
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let err = |e: sqlx::migrate::MigrateError| StoreError::Migrate(e.to_string());
        if !self.pii_conversion_done().await {
            crate::migrations::sqlite(Some(crate::migrations::PII_CONVERSION_AFTER))
                .run(&self.pool)
                .await
                .map_err(err)?;
            crate::pii_conversion::convert(self).await?;
        }
        crate::migrations::sqlite(None)
            .run(&self.pool)
            .await
            .map_err(err)
    }

    pub(crate) async fn close(&self) {
        self.stash.drain();
        self.pool.close().await;
    }
}

/// The data directory holds the database (and later key material): owner
/// access only.
fn create_private_dir(dir: &std::path::Path) -> Result<(), StoreError> {
    let err = |e: std::io::Error| {
        StoreError::Config(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    };
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}
