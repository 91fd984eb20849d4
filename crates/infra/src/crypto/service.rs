//! The key service: data-key rings per tenant × classification stored
//! wrapped under the master key, unwrapped DEKs cached in memory, usage
//! counted in the store, rotation and retirement; and the field crypto the
//! stores use for personal data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use isms_domain::TenantId;
use isms_domain::audit::AuditRecord;
use isms_domain::crypto::{
    Aad, Classification, CryptoObserver, CryptoOp, DataKeyMeta, DataKeyRecord, DataKeyRepository,
    Envelope, FieldCrypto, FieldCryptoError, FieldPlace, KeyPolicy, KeyRef, KeyRing, KeyRuleError,
    KeyState, ServerKeyRepository, rotation_due,
};
use isms_domain::ports::{KeyWrapper, RepoError};
use isms_domain::time::{Timestamp, now};
use zeroize::Zeroizing;

use super::{BlindIndex, CryptoError, Dek, DekCache, IndexKey, open, seal, unwrap_dek, wrap_dek};

/// Encryptions reserved from the store's counter at a time: one write per
/// this many encryptions per instance. Unused reservations are lost, which
/// only brings a rotation forward.
const RESERVATION: u64 = 256;
/// A ring changed by another instance is seen within this time; changes
/// made here apply at once.
const RING_CACHE_TTL: Duration = Duration::from_secs(30);
/// The server key holding the lookup index key.
pub const LOOKUP_INDEX_KEY: &str = "blind-index:lookup";

#[derive(Debug, thiserror::Error)]
pub enum KeyServiceError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Rule(#[from] KeyRuleError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<KeyServiceError> for FieldCryptoError {
    fn from(e: KeyServiceError) -> Self {
        match e {
            KeyServiceError::Crypto(CryptoError::KeyRetired)
            | KeyServiceError::Rule(
                KeyRuleError::Retired | KeyRuleError::BelowMinDecryptionVersion { .. },
            ) => FieldCryptoError::KeyRetired,
            KeyServiceError::Crypto(CryptoError::Unauthentic | CryptoError::Malformed) => {
                FieldCryptoError::Unauthentic
            }
            KeyServiceError::Repo(r) => FieldCryptoError::Storage(r.to_string()),
            other => FieldCryptoError::NoKey(other.to_string()),
        }
    }
}

/// The "tenant" of server-wide index keys: lookups that precede knowing
/// the tenant (login by e-mail) share one index key.
pub const SERVER: TenantId = TenantId::from_uuid(uuid::Uuid::nil());

#[derive(Default)]
struct Reserved {
    /// The store's count after our last reservation.
    until: u64,
    /// Reserved uses not yet spent.
    left: u64,
}

pub struct KeyService {
    repo: Arc<dyn DataKeyRepository>,
    master: Arc<dyn KeyWrapper>,
    policy: KeyPolicy,
    deks: DekCache,
    rings: moka::sync::Cache<(TenantId, Classification), Arc<KeyRing>>,
    reserved: Mutex<HashMap<KeyRef, Reserved>>,
    server_keys: Arc<dyn ServerKeyRepository>,
    lookup: tokio::sync::OnceCell<BlindIndex>,
    observer: std::sync::OnceLock<Arc<dyn CryptoObserver>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService").finish_non_exhaustive()
    }
}

/// What a key listing shows (never key material).
pub type KeyInfo = DataKeyMeta;

impl KeyService {
    /// No IO: the server-wide lookup index key is loaded (or created, on
    /// first start) when first needed, so the service can exist before
    /// the migrations that create its tables have run.
    pub fn new(
        repo: Arc<dyn DataKeyRepository>,
        server_keys: Arc<dyn ServerKeyRepository>,
        master: Arc<dyn KeyWrapper>,
        policy: KeyPolicy,
    ) -> Self {
        Self {
            repo,
            server_keys,
            master,
            policy,
            deks: DekCache::new(10_000, Duration::from_secs(600)),
            rings: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RING_CACHE_TTL)
                .build(),
            reserved: Mutex::new(HashMap::new()),
            lookup: tokio::sync::OnceCell::new(),
            observer: std::sync::OnceLock::new(),
        }
    }

    /// Reports every successful seal and open to `observer` (set once, at
    /// wiring; later calls are ignored).
    pub fn observe(&self, observer: Arc<dyn CryptoObserver>) {
        let _ = self.observer.set(observer);
    }

    fn observed(&self, op: CryptoOp, class: Classification) {
        if let Some(o) = self.observer.get() {
            o.operation(op, class);
        }
    }

    async fn lookup(&self) -> Result<&BlindIndex, KeyServiceError> {
        self.lookup
            .get_or_try_init(|| async {
                let candidate = IndexKey::generate()?.wrap(self.master.as_ref(), SERVER)?;
                let stored = self
                    .server_keys
                    .get_or_create(LOOKUP_INDEX_KEY, &candidate)
                    .await?;
                let key = IndexKey::unwrap(self.master.as_ref(), SERVER, &stored)?;
                Ok::<_, KeyServiceError>(BlindIndex::new(SERVER, key))
            })
            .await
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    pub async fn ring(
        &self,
        tenant: TenantId,
        class: Classification,
    ) -> Result<Arc<KeyRing>, KeyServiceError> {
        if let Some(r) = self.rings.get(&(tenant, class)) {
            return Ok(r);
        }
        let versions = self.repo.list_versions(tenant, class).await?;
        let min = self.repo.min_decryption_version(tenant, class).await?;
        let ring = Arc::new(KeyRing::new(
            tenant,
            class,
            min,
            versions.into_iter().map(|r| r.meta).collect(),
        )?);
        self.rings.insert((tenant, class), ring.clone());
        Ok(ring)
    }

    fn forget(&self, tenant: TenantId, class: Classification) {
        self.rings.invalidate(&(tenant, class));
        if let Ok(mut r) = self.reserved.lock() {
            r.retain(|k, _| !(k.tenant == tenant && k.classification == class));
        }
    }

    async fn dek(&self, key: &KeyRef) -> Result<Arc<Dek>, KeyServiceError> {
        if let Some(d) = self.deks.get(key) {
            return Ok(d);
        }
        let record = self
            .repo
            .list_versions(key.tenant, key.classification)
            .await?
            .into_iter()
            .find(|r| r.meta.key == *key)
            .ok_or(CryptoError::UnknownKey)?;
        let dek = unwrap_dek(self.master.as_ref(), key, &record.wrapped_key)?;
        Ok(self.deks.insert(*key, dek))
    }

    /// Counts one encryption under `meta`, reserving from the store in
    /// blocks; refuses once the store's count reaches the cap.
    async fn count_use(&self, meta: &DataKeyMeta) -> Result<(), KeyServiceError> {
        {
            let mut r = self.reserved.lock().map_err(|_| CryptoError::UnknownKey)?;
            let entry = r.entry(meta.key).or_default();
            if entry.left > 0 {
                entry.left -= 1;
                return Ok(());
            }
        }
        let block = RESERVATION.min(meta.max_usage.max(1));
        let after = self.repo.increment_usage(&meta.key, block).await?;
        // Only the uses below the cap are ours.
        let usable = meta
            .max_usage
            .saturating_sub(after.saturating_sub(block))
            .min(block);
        if usable == 0 {
            return Err(KeyRuleError::UsageCapReached.into());
        }
        let mut r = self.reserved.lock().map_err(|_| CryptoError::UnknownKey)?;
        let entry = r.entry(meta.key).or_default();
        entry.until = after;
        entry.left = usable - 1;
        Ok(())
    }

    /// The primary key of a ring, creating version 1 on first use.
    async fn primary(
        &self,
        tenant: TenantId,
        class: Classification,
    ) -> Result<DataKeyMeta, KeyServiceError> {
        let ring = self.ring(tenant, class).await?;
        if let Ok(p) = ring.for_encrypt() {
            return Ok(p.clone());
        }
        if ring.versions().is_empty() {
            match self.rotate(tenant, class, &[]).await {
                Ok(meta) => return Ok(meta),
                // Another instance created it first.
                Err(KeyServiceError::Repo(RepoError::Conflict(_))) => {
                    self.forget(tenant, class);
                }
                Err(e) => return Err(e),
            }
            return Ok(self.ring(tenant, class).await?.for_encrypt()?.clone());
        }
        Ok(ring.for_encrypt()?.clone())
    }

    /// Seals under the primary version of the tenant's `class` ring.
    pub async fn encrypt(
        &self,
        tenant: TenantId,
        class: Classification,
        aad: &Aad,
        plaintext: &[u8],
    ) -> Result<(Envelope, DataKeyMeta), KeyServiceError> {
        let meta = self.primary(tenant, class).await?;
        let meta = match self.count_use(&meta).await {
            Ok(()) => meta,
            Err(KeyServiceError::Rule(KeyRuleError::UsageCapReached)) => {
                // The cap forces a rotation before any nonce could repeat.
                self.rotate(tenant, class, &[]).await?;
                let fresh = self.primary(tenant, class).await?;
                self.count_use(&fresh).await?;
                fresh
            }
            Err(e) => return Err(e),
        };
        let dek = self.dek(&meta.key).await?;
        let envelope = seal(&dek, &meta.key, aad, plaintext)?;
        self.observed(CryptoOp::Encrypt, class);
        Ok((envelope, meta))
    }

    /// Opens an envelope of the tenant's rings; retired versions and
    /// versions below the ring's minimum no longer decrypt.
    pub async fn decrypt(
        &self,
        tenant: TenantId,
        envelope: &Envelope,
        aad: &Aad,
    ) -> Result<(Zeroizing<Vec<u8>>, DataKeyMeta), KeyServiceError> {
        let key = envelope.key_ref(tenant).ok_or(CryptoError::Malformed)?;
        let mut ring = self.ring(tenant, key.classification).await?;
        if ring.get(key.version).is_err() {
            // A version created by another instance since we cached.
            self.forget(tenant, key.classification);
            ring = self.ring(tenant, key.classification).await?;
        }
        let meta = ring.for_decrypt(key.version).map_err(|e| match e {
            KeyRuleError::UnknownVersion(_) => KeyServiceError::Crypto(CryptoError::UnknownKey),
            other => KeyServiceError::Rule(other),
        })?;
        let dek = self.dek(&key).await?;
        let plaintext = open(&dek, envelope, aad)?;
        self.observed(CryptoOp::Decrypt, key.classification);
        Ok((plaintext, meta.clone()))
    }

    /// A new primary version; the old primary stays decrypt-only.
    pub async fn rotate(
        &self,
        tenant: TenantId,
        class: Classification,
        audit: &[AuditRecord],
    ) -> Result<DataKeyMeta, KeyServiceError> {
        self.forget(tenant, class);
        let ring = self.ring(tenant, class).await?;
        let rotation = ring.rotate(now(), &self.policy)?;
        let dek = Dek::generate()?;
        let wrapped = wrap_dek(self.master.as_ref(), &rotation.new_primary.key, &dek)?;
        let record = DataKeyRecord {
            meta: rotation.new_primary.clone(),
            wrapped_key: wrapped,
        };
        let result = self.repo.insert_version(&record, audit).await;
        self.forget(tenant, class);
        result?;
        self.deks.insert(record.meta.key, dek);
        Ok(rotation.new_primary)
    }

    /// Retires a version: it no longer decrypts (rewrap its data first).
    pub async fn retire(
        &self,
        tenant: TenantId,
        class: Classification,
        version: u32,
        audit: &[AuditRecord],
    ) -> Result<DataKeyMeta, KeyServiceError> {
        self.forget(tenant, class);
        let ring = self.ring(tenant, class).await?;
        let retired = ring.retire(version, now())?;
        self.repo
            .set_state(&retired.key, KeyState::Retired, now(), audit)
            .await?;
        self.forget(tenant, class);
        self.deks.invalidate(&retired.key);
        Ok(retired)
    }

    /// Rings whose primary is past its rotation age, across tenants.
    pub async fn due_for_rotation(
        &self,
        at: Timestamp,
    ) -> Result<Vec<(TenantId, Classification)>, KeyServiceError> {
        let all = self.repo.list_all().await?;
        Ok(all
            .into_iter()
            .filter(|r| {
                r.meta.state == KeyState::Primary
                    && rotation_due(&r.meta, at, self.policy.max_age())
            })
            .map(|r| (r.meta.key.tenant, r.meta.key.classification))
            .collect())
    }

    /// Every version of the tenant's rings.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<KeyInfo>, KeyServiceError> {
        let mut out = Vec::new();
        for class in Classification::ALL {
            self.forget(tenant, class);
            out.extend(self.ring(tenant, class).await?.versions().iter().cloned());
        }
        Ok(out)
    }

    /// Destroys every key of a tenant (offboarding): all its ciphertexts
    /// become unrecoverable.
    pub async fn destroy_tenant(
        &self,
        tenant: TenantId,
        audit: &[AuditRecord],
    ) -> Result<u64, KeyServiceError> {
        let n = self.repo.delete_tenant(tenant, audit).await?;
        for class in Classification::ALL {
            self.forget(tenant, class);
        }
        self.deks.invalidate_tenant(tenant);
        Ok(n)
    }

    pub fn master(&self) -> &Arc<dyn KeyWrapper> {
        &self.master
    }
}

#[async_trait]
impl FieldCrypto for KeyService {
    async fn seal_field(
        &self,
        tenant: TenantId,
        classification: Classification,
        place: &FieldPlace<'_>,
        plaintext: &[u8],
    ) -> Result<(String, u32), FieldCryptoError> {
        let aad = Aad::field(tenant, place.table, place.column, place.row_id);
        let (env, meta) = self
            .encrypt(tenant, classification, &aad, plaintext)
            .await?;
        Ok((env.to_text(), meta.key.version))
    }

    async fn open_field(
        &self,
        tenant: TenantId,
        place: &FieldPlace<'_>,
        envelope: &str,
    ) -> Result<Zeroizing<Vec<u8>>, FieldCryptoError> {
        let env = Envelope::from_text(envelope).map_err(|_| FieldCryptoError::Unauthentic)?;
        let aad = Aad::field(tenant, place.table, place.column, place.row_id);
        Ok(self.decrypt(tenant, &env, &aad).await?.0)
    }

    async fn lookup_index(
        &self,
        column: &str,
        normalized: &str,
    ) -> Result<[u8; 16], FieldCryptoError> {
        let index = self.lookup().await?;
        Ok(*index
            .compute(column, normalized)
            .map_err(KeyServiceError::from)?
            .as_bytes())
    }

    async fn primary_version(
        &self,
        tenant: TenantId,
        classification: Classification,
    ) -> Result<u32, FieldCryptoError> {
        Ok(self.primary(tenant, classification).await?.key.version)
    }
}

impl From<KeyServiceError> for isms_domain::crypto::KeyOpError {
    fn from(e: KeyServiceError) -> Self {
        use isms_domain::crypto::KeyOpError as E;
        match e {
            KeyServiceError::Crypto(
                CryptoError::Unauthentic | CryptoError::Malformed | CryptoError::TenantMismatch,
            ) => E::Unauthentic,
            KeyServiceError::Crypto(CryptoError::KeyRetired)
            | KeyServiceError::Rule(
                KeyRuleError::Retired | KeyRuleError::BelowMinDecryptionVersion { .. },
            ) => E::KeyRetired,
            KeyServiceError::Crypto(CryptoError::UnknownKey)
            | KeyServiceError::Rule(KeyRuleError::UnknownVersion(_)) => E::UnknownKey,
            KeyServiceError::Repo(r) => E::Storage(r),
            other => E::Rule(other.to_string()),
        }
    }
}

#[async_trait]
impl isms_domain::crypto::KeyManagement for KeyService {
    async fn encrypt(
        &self,
        tenant: TenantId,
        classification: Classification,
        aad: &Aad,
        plaintext: &[u8],
    ) -> Result<(Envelope, DataKeyMeta), isms_domain::crypto::KeyOpError> {
        Ok(KeyService::encrypt(self, tenant, classification, aad, plaintext).await?)
    }

    async fn decrypt(
        &self,
        tenant: TenantId,
        envelope: &Envelope,
        aad: &Aad,
    ) -> Result<(Zeroizing<Vec<u8>>, DataKeyMeta), isms_domain::crypto::KeyOpError> {
        Ok(KeyService::decrypt(self, tenant, envelope, aad).await?)
    }

    async fn rotate(
        &self,
        tenant: TenantId,
        classification: Classification,
        audit: &[AuditRecord],
    ) -> Result<DataKeyMeta, isms_domain::crypto::KeyOpError> {
        Ok(KeyService::rotate(self, tenant, classification, audit).await?)
    }

    async fn retire(
        &self,
        tenant: TenantId,
        classification: Classification,
        version: u32,
        audit: &[AuditRecord],
    ) -> Result<DataKeyMeta, isms_domain::crypto::KeyOpError> {
        Ok(KeyService::retire(self, tenant, classification, version, audit).await?)
    }

    async fn list(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<DataKeyMeta>, isms_domain::crypto::KeyOpError> {
        Ok(KeyService::list(self, tenant).await?)
    }

    async fn due_for_rotation(
        &self,
        at: Timestamp,
    ) -> Result<Vec<(TenantId, Classification)>, isms_domain::crypto::KeyOpError> {
        Ok(KeyService::due_for_rotation(self, at).await?)
    }

    async fn destroy_tenant(
        &self,
        tenant: TenantId,
        audit: &[AuditRecord],
    ) -> Result<u64, isms_domain::crypto::KeyOpError> {
        Ok(KeyService::destroy_tenant(self, tenant, audit).await?)
    }
}
