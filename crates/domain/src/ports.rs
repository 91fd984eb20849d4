//! Ports: what the domain needs from the outside world. Storage adapters
//! (SQLite, PostgreSQL) and infrastructure (hashing) implement them; one
//! conformance suite holds every implementation to the same behaviour.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::email::Email;
use crate::ids::{TenantId, UserId};
use crate::page::{Page, PageRequest};
use crate::tenant::Tenant;
use crate::user::{PasswordHash, User};

/// Errors every repository may report. Messages carry internal detail for
/// logs only; the HTTP layer never shows them to clients.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; names the rule (e.g. `email`).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The store cannot be reached or timed out.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}

#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Fails with `Conflict("tenant_name")` when the name is taken.
    async fn create(&self, tenant: &Tenant) -> Result<(), RepoError>;
    async fn get(&self, id: TenantId) -> Result<Tenant, RepoError>;
    /// Case-insensitive lookup by name.
    async fn find_by_name(&self, name: &str) -> Result<Option<Tenant>, RepoError>;
    async fn list(&self, page: PageRequest) -> Result<Page<Tenant>, RepoError>;
}

/// User storage. Every read and write except the server-wide e-mail lookup
/// (needed to log in) is scoped by tenant here, below the handlers, so a
/// handler cannot forget it.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Fails with `Conflict("email")` when a live user has the address.
    async fn create(&self, user: &User) -> Result<(), RepoError>;
    async fn get(&self, tenant: TenantId, id: UserId) -> Result<User, RepoError>;
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<User>, RepoError>;
    /// Writes every mutable field of `user`; `NotFound` if it is missing,
    /// deleted or in another tenant.
    async fn update(&self, user: &User) -> Result<(), RepoError>;
    async fn soft_delete(&self, tenant: TenantId, id: UserId) -> Result<(), RepoError>;
}

/// First-start provisioning, atomic across processes sharing one database.
#[async_trait]
pub trait BootstrapRepository: Send + Sync {
    async fn is_bootstrapped(&self) -> Result<bool, RepoError>;
    /// Creates `tenant` and `admin` unless the server was bootstrapped
    /// before; returns whether it did.
    async fn bootstrap(&self, tenant: &Tenant, admin: &User) -> Result<bool, RepoError>;
}

/// Liveness of the store for readiness probes.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    async fn ping(&self) -> Result<(), RepoError>;
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("stored password hash is malformed")]
    MalformedHash,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Password hashing (Argon2id in production). Async because a hash costs
/// tens of milliseconds and must run off the request threads.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, HashError>;
    async fn verify(&self, password: SecretString, hash: &PasswordHash) -> Result<bool, HashError>;
}
