//! Tenant scope of a database operation. On PostgreSQL every operation
//! runs in a transaction that first sets `isms.tenant_id`, which the
//! row-level-security policies on tenant-scoped tables check (defence in
//! depth beneath the repositories' own `WHERE tenant_id = …`): an operation
//! that forgot its scope sees no rows at all. SQLite has no RLS; there the
//! scope is only a plain connection.

use isms_domain::TenantId;
use isms_domain::ports::RepoError;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// Rows of one tenant only.
    Tenant(TenantId),
    /// Deliberately cross-tenant: login by e-mail, refresh by token hash,
    /// provisioning, key management.
    Server,
}

impl Scope {
    /// The value of `isms.tenant_id` the policies compare with.
    pub(crate) fn setting(self) -> String {
        match self {
            Scope::Tenant(t) => t.to_string(),
            Scope::Server => "*".to_owned(),
        }
    }
}

/// Ends a scoped operation: commits a transaction, releases a connection.
pub(crate) trait Finish {
    async fn finish(self) -> Result<(), RepoError>;
}

impl<DB: sqlx::Database> Finish for sqlx::Transaction<'static, DB> {
    async fn finish(self) -> Result<(), RepoError> {
        self.commit().await.map_err(crate::error::map)
    }
}

impl<DB: sqlx::Database> Finish for sqlx::pool::PoolConnection<DB> {
    async fn finish(self) -> Result<(), RepoError> {
        Ok(())
    }
}

/// Runs `body` on a connection of `scope` (`c` names it inside the body)
/// and finishes the scope when the body succeeded; on error the
/// transaction is dropped, which rolls it back.
macro_rules! scoped {
    ($self:ident, $scope:expr, $c:ident => $body:expr) => {{
        let mut $c = $self.conn($scope).await?;
        let out: Result<_, isms_domain::ports::RepoError> = async { $body }.await;
        if out.is_ok() {
            crate::scope::Finish::finish($c).await?;
        }
        out
    }};
}

pub(crate) use scoped;

/// `scoped!` for bodies that only read: the scope is released without a
/// commit. On PostgreSQL the dropped transaction's ROLLBACK is sent with
/// the pool's release check, off the caller's path (a round trip saved per
/// read; a body that wrote would lose its writes, so reads only).
macro_rules! scoped_read {
    ($self:ident, $scope:expr, $c:ident => $body:expr) => {{
        let mut $c = $self.conn($scope).await?;
        let out: Result<_, isms_domain::ports::RepoError> = async { $body }.await;
        drop($c);
        out
    }};
}

pub(crate) use scoped_read;

/// Like `scoped!`, but always in a transaction (on SQLite too): for
/// changes, which append their audit records before committing.
macro_rules! scoped_tx {
    ($self:ident, $scope:expr, $c:ident => $body:expr) => {{
        let mut $c = $self.tx($scope).await?;
        let out: Result<_, isms_domain::ports::RepoError> = async { $body }.await;
        if out.is_ok() {
            $c.commit().await.map_err(crate::error::map)?;
        }
        out
    }};
}

pub(crate) use scoped_tx;
