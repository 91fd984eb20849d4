//! Storage ports for key management. Only wrapped key material crosses
//! them; unwrapping happens in infra with the master key.

use async_trait::async_trait;

use super::classification::Classification;
use super::key_ref::KeyRef;
use super::lifecycle::{DataKeyMeta, KeyState};
use super::subject::{SubjectId, SubjectKeyLookup, SubjectKeyRecord};
use crate::ids::TenantId;
use crate::ports::RepoError;
use crate::time::Timestamp;

/// One stored data-key version: its metadata and the DEK wrapped under the
/// master key with `dek_wrap_aad(&meta.key)`.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub meta: DataKeyMeta,
    pub wrapped_key: Vec<u8>,
}

impl std::fmt::Debug for DataKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeyRecord")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Tenant data keys: one ring per tenant × classification.
#[async_trait]
pub trait DataKeyRepository: Send + Sync {
    /// Every version of the ring, ascending by version (empty if none).
    async fn list_versions(
        &self,
        tenant: TenantId,
        classification: Classification,
    ) -> Result<Vec<DataKeyRecord>, RepoError>;

    /// The ring's minimum decryption version; 1 when never set.
    async fn min_decryption_version(
        &self,
        tenant: TenantId,
        classification: Classification,
    ) -> Result<u32, RepoError>;

    async fn set_min_decryption_version(
        &self,
        tenant: TenantId,
        classification: Classification,
        version: u32,
    ) -> Result<(), RepoError>;

    /// Stores a new version. When `record.meta.state` is primary, the
    /// previous primary of the ring becomes active with `rotated_at` set, in
    /// the same transaction, so a ring never has two primaries. Fails with
    /// `Conflict("data_key_version")` when the version exists (two
    /// instances rotating at once: the loser reloads).
    async fn insert_version(
        &self,
        record: &DataKeyRecord,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// Sets a version's state and the matching timestamp (`rotated_at` for
    /// active, `retired_at` for retired). `NotFound` if it does not exist.
    async fn set_state(
        &self,
        key: &KeyRef,
        state: KeyState,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// Every version of every tenant (master-key rotation rewraps them).
    async fn list_all(&self) -> Result<Vec<DataKeyRecord>, RepoError>;

    /// Replaces the wrapped key material of many versions in one
    /// transaction (master-key rotation: same keys, new wrapping).
    async fn rewrap_all(
        &self,
        rewrapped: &[(KeyRef, Vec<u8>)],
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;

    /// Adds `by` to the usage count in one atomic step and returns the new
    /// count (reserve before encrypting, then check with
    /// `DataKeyMeta::check_reserved`). `NotFound` if it does not exist.
    async fn increment_usage(&self, key: &KeyRef, by: u64) -> Result<u64, RepoError>;

    /// Deletes every key of the tenant (tenant offboarding: everything it
    /// encrypted becomes unreadable). Returns how many versions went.
    async fn delete_tenant(
        &self,
        tenant: TenantId,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<u64, RepoError>;
}

/// Per-data-subject keys (crypto-shredding).
#[async_trait]
pub trait SubjectKeyRepository: Send + Sync {
    /// The subject's key, if one was ever created.
    async fn get(
        &self,
        tenant: TenantId,
        subject: &SubjectId,
    ) -> Result<Option<SubjectKeyLookup>, RepoError>;

    /// Stores `candidate` unless the subject already has a key or a
    /// tombstone, atomically, and returns what is stored afterwards: the
    /// existing key, `candidate`, or `Destroyed`. (The caller generates
    /// and wraps the candidate first; losing a race just discards it.)
    async fn get_or_create(
        &self,
        candidate: &SubjectKeyRecord,
    ) -> Result<SubjectKeyLookup, RepoError>;

    /// Deletes the wrapped key and leaves a tombstone, so later calls
    /// return `Destroyed` and no new key is issued. Returns whether a live
    /// key was destroyed (false when there was none or it already was).
    async fn destroy(
        &self,
        tenant: TenantId,
        subject: &SubjectId,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<bool, RepoError>;
}

/// Server-wide keys other than the master key, stored wrapped under it
/// (e.g. the blind-index key of lookups that happen before the tenant is
/// known, such as login by e-mail).
#[async_trait]
pub trait ServerKeyRepository: Send + Sync {
    /// The wrapped key named `name`, storing `candidate` first when there
    /// is none (several instances may race on first start; one wins).
    async fn get_or_create(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, RepoError>;
    /// Replaces the wrapped bytes (master-key rotation).
    async fn replace(&self, name: &str, wrapped: &[u8]) -> Result<(), RepoError>;
    async fn list(&self) -> Result<Vec<(String, Vec<u8>)>, RepoError>;
}

/// Why a field could not be sealed or opened (no detail that helps an
/// attacker: tampering, a wrong place and a wrong key look the same).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldCryptoError {
    #[error("stored ciphertext failed authentication")]
    Unauthentic,
    #[error("the key for this ciphertext is retired")]
    KeyRetired,
    #[error("no usable key: {0}")]
    NoKey(String),
    #[error("key storage: {0}")]
    Storage(String),
}

/// Field encryption for the stores: personal and sensitive columns are
/// sealed with the tenant's key of their classification and bound (AAD) to
/// tenant, table, column and row.
#[async_trait]
pub trait FieldCrypto: Send + Sync {
    /// A text envelope and the key version it was sealed under.
    async fn seal_field(
        &self,
        tenant: TenantId,
        classification: Classification,
        place: &FieldPlace<'_>,
        plaintext: &[u8],
    ) -> Result<(String, u32), FieldCryptoError>;
    async fn open_field(
        &self,
        tenant: TenantId,
        place: &FieldPlace<'_>,
        envelope: &str,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, FieldCryptoError>;
    /// A server-wide blind index (HMAC-SHA256, truncated to 16 bytes) of a
    /// normalised value, for unique lookups that precede knowing the tenant.
    async fn lookup_index(
        &self,
        column: &str,
        normalized: &str,
    ) -> Result<[u8; 16], FieldCryptoError>;
    /// The primary version of a ring (what rewrapping moves fields to).
    async fn primary_version(
        &self,
        tenant: TenantId,
        classification: Classification,
    ) -> Result<u32, FieldCryptoError>;
}

/// Where a field lives, for its AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPlace<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

/// How one sensitive column is stored, for the compliance monitor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldInventory {
    pub table: String,
    pub column: String,
    pub classification: Classification,
    /// Rows holding the value in clear (should be 0).
    pub plaintext: u64,
    /// Rows per key version that sealed them.
    pub by_version: Vec<(u32, u64)>,
}

/// Sensitive columns across stores: what the compliance monitor counts and
/// what rewrapping re-encrypts.
#[async_trait]
pub trait EncryptedFields: Send + Sync {
    async fn inventory(&self, tenant: TenantId) -> Result<Vec<FieldInventory>, RepoError>;
    /// Re-encrypts up to `limit` fields of `classification` sealed under a
    /// version below the primary; returns how many it rewrote (0: done).
    /// Idempotent and resumable: each batch commits on its own.
    async fn rewrap(
        &self,
        tenant: TenantId,
        classification: Classification,
        limit: u32,
    ) -> Result<u32, RepoError>;
}

/// Why a key operation failed, as services see it.
#[derive(Debug, thiserror::Error)]
pub enum KeyOpError {
    /// Tampered ciphertext, wrong context, or not this tenant's key.
    #[error("ciphertext failed authentication")]
    Unauthentic,
    #[error("the key version is retired")]
    KeyRetired,
    #[error("no such key")]
    UnknownKey,
    /// A key rule refused (e.g. retiring the primary).
    #[error("{0}")]
    Rule(String),
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// Key management as services use it (envelope encryption under the
/// tenant's rings; implemented by infrastructure).
#[async_trait]
pub trait KeyManagement: Send + Sync {
    async fn encrypt(
        &self,
        tenant: TenantId,
        classification: Classification,
        aad: &super::Aad,
        plaintext: &[u8],
    ) -> Result<(super::Envelope, DataKeyMeta), KeyOpError>;
    async fn decrypt(
        &self,
        tenant: TenantId,
        envelope: &super::Envelope,
        aad: &super::Aad,
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, DataKeyMeta), KeyOpError>;
    async fn rotate(
        &self,
        tenant: TenantId,
        classification: Classification,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<DataKeyMeta, KeyOpError>;
    async fn retire(
        &self,
        tenant: TenantId,
        classification: Classification,
        version: u32,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<DataKeyMeta, KeyOpError>;
    async fn list(&self, tenant: TenantId) -> Result<Vec<DataKeyMeta>, KeyOpError>;
    /// Rings whose primary is older than the rotation period.
    async fn due_for_rotation(
        &self,
        at: Timestamp,
    ) -> Result<Vec<(TenantId, Classification)>, KeyOpError>;
    async fn destroy_tenant(
        &self,
        tenant: TenantId,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<u64, KeyOpError>;
}

/// An envelope operation that succeeded, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoOp {
    Encrypt,
    Decrypt,
}

impl CryptoOp {
    pub const ALL: [CryptoOp; 2] = [CryptoOp::Encrypt, CryptoOp::Decrypt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
        }
    }
}

/// Told of every envelope sealed or opened, whoever asked (the API, a
/// stored field, a rewrap). Must be cheap: it runs on the request path.
pub trait CryptoObserver: Send + Sync {
    fn operation(&self, op: CryptoOp, classification: Classification);
}
