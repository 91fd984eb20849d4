//! PostgreSQL backend: for several stateless isms instances behind a load
//! balancer. The pool is bounded and every statement has a server-side
//! timeout, so a slow query cannot pin a connection forever.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{StoreError, StoreOptions};

#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) crypto: crate::pii::CryptoSlot,
}

crate::repos::impl_repositories!(PgStore);
crate::identity_repos::impl_identity_repositories!(PgStore);
crate::mfa_repos::impl_mfa_repositories!(PgStore);
crate::audit_repos::impl_audit_repositories!(PgStore);
crate::pii_conversion::impl_pii_conversion!(PgStore);
crate::crypto_repos::impl_crypto_repositories!(PgStore);
crate::master_rewrap::impl_master_rewrap!(PgStore);
crate::compliance_repos::impl_compliance_repositories!(PgStore);
crate::risk_repos::impl_risk_repository!(PgStore);
crate::gdpr_repos::impl_gdpr_repository!(PgStore);

impl PgStore {
    /// PostgreSQL plans bulk `UPDATE ... FROM (VALUES ...)` joins from
    /// its statistics; no hint needed (see `SqliteStore::NO_INDEX`).
    pub(crate) const NO_INDEX: &'static str = "";

    /// How several writes go in one statement (see `chain.rs`).
    pub(crate) const CHAIN: crate::chain::Chain = crate::chain::Chain::WithClauses;

    /// No SQLite-only paths here (see `SqliteStore::as_sqlite`).
    pub(crate) fn as_sqlite(&self) -> Option<&crate::sqlite::SqliteStore> {
        None
    }

    /// The row lock serialises appends to one log across instances.
    pub(crate) const AUDIT_HEAD_FOR_UPDATE: &'static str =
        "SELECT size, frontier FROM audit_logs WHERE log_id = $1 FOR UPDATE";

    /// Proof nodes by two comma-separated lists (levels, indexes) walked
    /// in step: one prepared statement for every proof, index lookups on
    /// the primary key.
    pub(crate) const AUDIT_NODES_BY_LIST: Option<&'static str> = Some(
        "SELECT CAST(n.level AS BIGINT), n.idx, n.hash FROM audit_nodes n \
         JOIN unnest(string_to_array($2, ',')::smallint[], string_to_array($3, ',')::bigint[]) \
         AS w(level, idx) ON n.level = w.level AND n.idx = w.idx WHERE n.log_id = $1",
    );

    /// PostgreSQL's driver decodes rows cheaply: no JSON detour.
    pub(crate) const AUDIT_SCAN_AS_TEXT: Option<&'static str> = None;

    pub async fn connect(opts: &StoreOptions) -> Result<Self, StoreError> {
        let timeout_ms = opts.statement_timeout.as_millis().to_string();
        let connect = PgConnectOptions::from_str(opts.url.expose())
            .map_err(|_| StoreError::Config("invalid PostgreSQL URL".into()))?
            .application_name("isms")
            .options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(600)))
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        Ok(Self {
            pool,
            crypto: crate::pii::CryptoSlot::default(),
        })
    }

    /// Every operation is a transaction that first sets the tenant scope
    /// the row-level-security policies check.
    pub(crate) async fn tx(
        &self,
        scope: crate::scope::Scope,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, isms_domain::ports::RepoError> {
        // BEGIN and the scope in one simple query: one round trip, not
        // two. The setting is a UUID or `*` (checked here, since it is
        // written into the statement rather than bound).
        let setting = scope.setting();
        if !setting
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'*')
        {
            return Err(isms_domain::ports::RepoError::Internal(
                "invalid tenant scope".into(),
            ));
        }
        self.pool
            .begin_with(sqlx::AssertSqlSafe(format!(
                "BEGIN; SELECT set_config('isms.tenant_id', '{setting}', true)"
            )))
            .await
            .map_err(crate::error::map)
    }

    pub(crate) async fn conn(
        &self,
        scope: crate::scope::Scope,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, isms_domain::ports::RepoError> {
        self.tx(scope).await
    }

    /// Migrates in two steps around the conversion of plaintext personal
    /// data (see `pii_conversion.rs`).
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let err = |e: sqlx::migrate::MigrateError| StoreError::Migrate(e.to_string());
        if !self.pii_conversion_done().await {
            crate::migrations::postgres(Some(crate::migrations::PII_CONVERSION_AFTER))
                .run(&self.pool)
                .await
                .map_err(err)?;
            crate::pii_conversion::convert(self).await?;
        }
        crate::migrations::postgres(None)
            .run(&self.pool)
            .await
            .map_err(err)
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
