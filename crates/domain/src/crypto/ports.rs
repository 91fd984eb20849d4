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
    async fn insert_version(&self, record: &DataKeyRecord) -> Result<(), RepoError>;

    /// Sets a version's state and the matching timestamp (`rotated_at` for
    /// active, `retired_at` for retired). `NotFound` if it does not exist.
    async fn set_state(
        &self,
        key: &KeyRef,
        state: KeyState,
        at: Timestamp,
    ) -> Result<(), RepoError>;

    /// Adds `by` to the usage count in one atomic step and returns the new
    /// count (reserve before encrypting, then check with
    /// `DataKeyMeta::check_reserved`). `NotFound` if it does not exist.
    async fn increment_usage(&self, key: &KeyRef, by: u64) -> Result<u64, RepoError>;

    /// Deletes every key of the tenant (tenant offboarding: everything it
    /// encrypted becomes unreadable). Returns how many versions went.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<u64, RepoError>;
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
    ) -> Result<bool, RepoError>;
}
