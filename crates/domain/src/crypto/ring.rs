//! A key ring: every version of one tenant's data key for one
//! classification, plus the ring's minimum decryption version (as in
//! Vault transit). Validated on construction so the rules below can rely
//! on one primary at most and unique versions.

use super::classification::Classification;
use super::key_ref::KeyRef;
use super::lifecycle::{DataKeyMeta, KeyPolicy, KeyRuleError, KeyState, retire};
use crate::ids::TenantId;
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    tenant: TenantId,
    classification: Classification,
    min_decryption_version: u32,
    /// Ascending by version.
    versions: Vec<DataKeyMeta>,
}

/// The result of a rotation, to persist atomically: insert `new_primary`
/// and store `demoted` (the old primary, now active) in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_primary: DataKeyMeta,
    pub demoted: Option<DataKeyMeta>,
}

impl KeyRing {
    /// A ring with no versions yet; its first `rotate` creates version 1.
    pub fn empty(tenant: TenantId, classification: Classification) -> Self {
        Self {
            tenant,
            classification,
            min_decryption_version: 1,
            versions: Vec::new(),
        }
    }

    pub fn new(
        tenant: TenantId,
        classification: Classification,
        min_decryption_version: u32,
        mut versions: Vec<DataKeyMeta>,
    ) -> Result<Self, KeyRuleError> {
        if min_decryption_version == 0 {
            return Err(KeyRuleError::InvalidMinDecryptionVersion);
        }
        if versions
            .iter()
            .any(|m| m.key.tenant != tenant || m.key.classification != classification)
        {
            return Err(KeyRuleError::Inconsistent(
                "a version belongs to another ring",
            ));
        }
        versions.sort_by_key(|m| m.key.version);
        if versions.first().is_some_and(|m| m.key.version == 0) {
            return Err(KeyRuleError::Inconsistent("version 0 is not allowed"));
        }
        if versions
            .windows(2)
            .any(|w| w[0].key.version == w[1].key.version)
        {
            return Err(KeyRuleError::Inconsistent("duplicate version"));
        }
        if versions
            .iter()
            .filter(|m| m.state == KeyState::Primary)
            .count()
            > 1
        {
            return Err(KeyRuleError::Inconsistent("several primary versions"));
        }
        Ok(Self {
            tenant,
            classification,
            min_decryption_version,
            versions,
        })
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn classification(&self) -> Classification {
        self.classification
    }

    pub fn min_decryption_version(&self) -> u32 {
        self.min_decryption_version
    }

    /// Ascending by version.
    pub fn versions(&self) -> &[DataKeyMeta] {
        &self.versions
    }

    pub fn primary(&self) -> Result<&DataKeyMeta, KeyRuleError> {
        self.versions
            .iter()
            .find(|m| m.state == KeyState::Primary)
            .ok_or(KeyRuleError::NoPrimary)
    }

    pub fn get(&self, version: u32) -> Result<&DataKeyMeta, KeyRuleError> {
        self.versions
            .binary_search_by_key(&version, |m| m.key.version)
            .map(|i| &self.versions[i])
            .map_err(|_| KeyRuleError::UnknownVersion(version))
    }

    /// The version new data is encrypted with.
    pub fn for_encrypt(&self) -> Result<&DataKeyMeta, KeyRuleError> {
        let primary = self.primary()?;
        primary.check_encrypt()?;
        Ok(primary)
    }

    /// The version named by a ciphertext, if it may still decrypt.
    pub fn for_decrypt(&self, version: u32) -> Result<&DataKeyMeta, KeyRuleError> {
        let meta = self.get(version)?;
        meta.check_decrypt(self.min_decryption_version)?;
        Ok(meta)
    }

    /// A new primary version (one above every version ever created, so
    /// numbers are never reused) and the old primary demoted to active.
    pub fn rotate(&self, now: Timestamp, policy: &KeyPolicy) -> Result<Rotation, KeyRuleError> {
        let next = match self.versions.last() {
            None => 1,
            Some(m) => m
                .key
                .version
                .checked_add(1)
                .ok_or(KeyRuleError::VersionOverflow)?,
        };
        let key = KeyRef::new(self.tenant, self.classification, next);
        let demoted = self.primary().ok().map(|old| DataKeyMeta {
            state: KeyState::Active,
            rotated_at: Some(now),
            ..old.clone()
        });
        Ok(Rotation {
            new_primary: DataKeyMeta::new_primary(key, now, policy),
            demoted,
        })
    }

    /// The ring after a successful `rotate` was persisted.
    pub fn apply(&mut self, rotation: &Rotation) {
        if let Some(demoted) = &rotation.demoted
            && let Ok(i) = self
                .versions
                .binary_search_by_key(&demoted.key.version, |m| m.key.version)
        {
            self.versions[i] = demoted.clone();
        }
        self.versions.push(rotation.new_primary.clone());
        self.versions.sort_by_key(|m| m.key.version);
    }

    /// Retires an active version (see `lifecycle::retire`).
    pub fn retire(&self, version: u32, now: Timestamp) -> Result<DataKeyMeta, KeyRuleError> {
        retire(self.get(version)?, now)
    }

    /// Validates a new minimum decryption version: at least 1 and never
    /// above the primary, so the ring can always read what it writes.
    pub fn check_min_decryption_version(&self, min: u32) -> Result<u32, KeyRuleError> {
        let primary = self.primary()?.key.version;
        if min == 0 || min > primary {
            return Err(KeyRuleError::InvalidMinDecryptionVersion);
        }
        Ok(min)
    }
}
