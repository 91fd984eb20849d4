//! Key lifecycle: the states a data-key version passes through and the
//! rules for using it. Pure functions over metadata; the caller persists
//! the results through `DataKeyRepository`.
//!
//! ```text
//!   rotate()            rotate()              retire()
//! ─────────▶ Primary ───────────▶ Active ───────────▶ Retired
//!            encrypt+decrypt      decrypt only         nothing
//! ```
//!
//! There is no way back: a retired version's data has been re-encrypted
//! and its key may be destroyed, and an old version never becomes primary
//! again (rotate forward instead).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::key_ref::KeyRef;
use crate::time::Timestamp;

/// NIST SP 800-38D §8.3: with random 96-bit IVs, one key may perform at
/// most 2^32 encryptions (beyond that the chance of an IV collision, which
/// breaks GCM completely, exceeds 2^-32).
pub const NIST_RANDOM_NONCE_LIMIT: u64 = 1 << 32;
/// Our cap per key version: half the NIST bound, so counters that are
/// reserved in batches or lost in a crash can never push a key past it.
pub const DEFAULT_MAX_USAGE: u64 = 1 << 31;
const _: () = assert!(DEFAULT_MAX_USAGE < NIST_RANDOM_NONCE_LIMIT);
/// Rotation period when none is configured (ISO 27001 asks for a defined
/// cryptoperiod; 90 days matches common KMS defaults).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// The one version per ring that encrypts new data; also decrypts.
    Primary,
    /// A former primary: decrypts existing data only.
    Active,
    /// Unusable; kept as a record (the wrapped key may be destroyed).
    Retired,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key state (expected one of primary, active, retired)")]
pub struct UnknownKeyState;

impl KeyState {
    pub const ALL: [KeyState; 3] = [KeyState::Primary, KeyState::Active, KeyState::Retired];

    pub const fn as_str(self) -> &'static str {
        match self {
            KeyState::Primary => "primary",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = UnknownKeyState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownKeyState)
    }
}

/// Why a key operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRuleError {
    #[error("key version is not the primary; it cannot encrypt")]
    NotPrimary,
    #[error("key version has reached its usage cap; rotate the key")]
    UsageCapReached,
    #[error("key version is retired")]
    Retired,
    #[error("key version {version} is below the minimum decryption version {min}")]
    BelowMinDecryptionVersion { version: u32, min: u32 },
    #[error("key version {0} does not exist")]
    UnknownVersion(u32),
    #[error("the key ring has no primary version")]
    NoPrimary,
    #[error("the key ring is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("a primary version cannot be retired; rotate first")]
    RetirePrimary,
    #[error("key version is already retired")]
    AlreadyRetired,
    #[error("key version numbers are exhausted")]
    VersionOverflow,
    #[error("invalid key policy: {0}")]
    InvalidPolicy(&'static str),
    #[error("minimum decryption version must be between 1 and the primary version")]
    InvalidMinDecryptionVersion,
}

/// Limits applied to new key versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    max_usage: u64,
    max_age: Duration,
}

impl KeyPolicy {
    /// `max_usage` may be lowered (tests, stricter deployments) but never
    /// raised above `DEFAULT_MAX_USAGE`.
    pub fn new(max_usage: u64, max_age: Duration) -> Result<Self, KeyRuleError> {
        if max_usage == 0 || max_usage > DEFAULT_MAX_USAGE {
            return Err(KeyRuleError::InvalidPolicy(
                "max_usage must be between 1 and 2^31",
            ));
        }
        if max_age.is_zero() || chrono::Duration::from_std(max_age).is_err() {
            return Err(KeyRuleError::InvalidPolicy("max_age is out of range"));
        }
        Ok(Self { max_usage, max_age })
    }

    pub const fn max_usage(&self) -> u64 {
        self.max_usage
    }

    pub const fn max_age(&self) -> Duration {
        self.max_age
    }
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            max_usage: DEFAULT_MAX_USAGE,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// Metadata of one data-key version (never the key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataKeyMeta {
    pub key: KeyRef,
    pub state: KeyState,
    pub created_at: Timestamp,
    /// When it stopped being primary.
    pub rotated_at: Option<Timestamp>,
    pub retired_at: Option<Timestamp>,
    /// When rotation becomes due (creation + the policy's max age).
    pub expires_at: Timestamp,
    /// Encryptions performed (or reserved) so far.
    pub usage_count: u64,
    pub max_usage: u64,
}

impl DataKeyMeta {
    /// A fresh primary version.
    pub fn new_primary(key: KeyRef, now: Timestamp, policy: &KeyPolicy) -> Self {
        let expires_at = chrono::Duration::from_std(policy.max_age)
            .ok()
            .and_then(|age| now.checked_add_signed(age))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        Self {
            key,
            state: KeyState::Primary,
            created_at: now,
            rotated_at: None,
            retired_at: None,
            expires_at,
            usage_count: 0,
            max_usage: policy.max_usage,
        }
    }

    /// The key id string (`tenant:<uuid>/<class>/v<n>`).
    pub fn id(&self) -> String {
        self.key.id()
    }

    /// A version encrypts only while primary and below its usage cap.
    pub fn check_encrypt(&self) -> Result<(), KeyRuleError> {
        self.check_encrypt_state()?;
        if self.usage_count >= self.max_usage {
            return Err(KeyRuleError::UsageCapReached);
        }
        Ok(())
    }

    /// Checks the count the store returned after atomically adding this
    /// encryption: the authoritative check, since cached metadata lags
    /// behind other instances.
    pub fn check_reserved(&self, count_after_increment: u64) -> Result<(), KeyRuleError> {
        self.check_encrypt_state()?;
        if count_after_increment > self.max_usage {
            return Err(KeyRuleError::UsageCapReached);
        }
        Ok(())
    }

    fn check_encrypt_state(&self) -> Result<(), KeyRuleError> {
        if self.state == KeyState::Primary {
            Ok(())
        } else {
            Err(KeyRuleError::NotPrimary)
        }
    }

    /// A version decrypts while not retired and at or above the ring's
    /// minimum decryption version.
    pub fn check_decrypt(&self, min_decryption_version: u32) -> Result<(), KeyRuleError> {
        if self.state == KeyState::Retired {
            return Err(KeyRuleError::Retired);
        }
        if self.key.version < min_decryption_version {
            return Err(KeyRuleError::BelowMinDecryptionVersion {
                version: self.key.version,
                min: min_decryption_version,
            });
        }
        Ok(())
    }
}

/// Whether the primary `meta` should be replaced: older than `max_age`,
/// past its `expires_at`, or out of uses. Non-primary versions are never
/// due (they no longer encrypt).
pub fn rotation_due(meta: &DataKeyMeta, now: Timestamp, max_age: Duration) -> bool {
    if meta.state != KeyState::Primary {
        return false;
    }
    let too_old = (now - meta.created_at)
        .to_std()
        .is_ok_and(|age| age >= max_age);
    too_old || now >= meta.expires_at || meta.usage_count >= meta.max_usage
}

/// Moves an active version to retired.
pub fn retire(meta: &DataKeyMeta, now: Timestamp) -> Result<DataKeyMeta, KeyRuleError> {
    match meta.state {
        KeyState::Primary => Err(KeyRuleError::RetirePrimary),
        KeyState::Retired => Err(KeyRuleError::AlreadyRetired),
        KeyState::Active => Ok(DataKeyMeta {
            state: KeyState::Retired,
            retired_at: Some(now),
            ..meta.clone()
        }),
    }
}
