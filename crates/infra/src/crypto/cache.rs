//! Unwrapped DEKs kept in memory so that not every operation pays a
//! master-key unwrap and a database read.
//!
//! Safe to cache because a `KeyRef` names the same key material for its
//! whole life (versions are never reused). The cache holds material only:
//! whether a version may still encrypt or decrypt is decided from its
//! metadata on every call, never from its presence here. Invalidation
//! therefore serves hygiene: keep as little key material in memory as
//! possible once a key is retired, its tenant deleted or the master key
//! rotated.
//!
//! Values are `Arc<Dek>`; a `Dek` zeroizes itself when the last `Arc`
//! drops, i.e. after eviction or invalidation once no operation still
//! holds it.

use std::sync::Arc;
use std::time::Duration;

use isms_domain::TenantId;
use isms_domain::crypto::{Classification, KeyRef};
use moka::sync::Cache;

use super::CryptoError;
use super::dek::Dek;

/// A bounded, idle-expiring map `KeyRef → Dek`.
#[derive(Clone)]
pub struct DekCache {
    inner: Cache<KeyRef, Arc<Dek>>,
}

impl std::fmt::Debug for DekCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DekCache")
            .field("entries", &self.inner.entry_count())
            .finish_non_exhaustive()
    }
}

impl DekCache {
    /// At most `max_keys` keys; a key unused for `time_to_idle` is dropped.
    pub fn new(max_keys: u64, time_to_idle: Duration) -> Self {
        Self {
            inner: Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(time_to_idle)
                .build(),
        }
    }

    pub fn get(&self, key: &KeyRef) -> Option<Arc<Dek>> {
        self.inner.get(key)
    }

    pub fn insert(&self, key: KeyRef, dek: Dek) -> Arc<Dek> {
        let dek = Arc::new(dek);
        self.inner.insert(key, dek.clone());
        dek
    }

    /// The cached key, or the result of `load` (typically read and unwrap),
    /// cached on success. Concurrent callers for one key share one load.
    pub fn get_or_try_insert_with(
        &self,
        key: KeyRef,
        load: impl FnOnce() -> Result<Dek, CryptoError>,
    ) -> Result<Arc<Dek>, CryptoError> {
        self.inner
            .try_get_with(key, || load().map(Arc::new))
            .map_err(|e| (*e).clone())
    }

    /// Forgets one version (it was retired).
    pub fn invalidate(&self, key: &KeyRef) {
        self.inner.invalidate(key);
    }

    /// Forgets every version of one ring (after a rotation, so superseded
    /// versions leave memory until they are next needed).
    pub fn invalidate_ring(&self, tenant: TenantId, classification: Classification) {
        self.invalidate_where(|k| k.tenant == tenant && k.classification == classification);
    }

    /// Forgets every key of a tenant (the tenant was deleted).
    pub fn invalidate_tenant(&self, tenant: TenantId) {
        self.invalidate_where(|k| k.tenant == tenant);
    }

    /// Forgets everything (the master key was rotated).
    pub fn invalidate_all(&self) {
        self.inner.invalidate_all();
    }

    // Walks the entries instead of moka's `invalidate_entries_if`, which
    // needs a builder option and applies lazily; this takes effect before
    // it returns.
    fn invalidate_where(&self, matches: impl Fn(&KeyRef) -> bool) {
        for (key, _) in self.inner.iter() {
            if matches(&key) {
                self.inner.invalidate(&*key);
            }
        }
    }

    /// Approximate number of cached keys (moka counts lazily).
    pub fn len(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
