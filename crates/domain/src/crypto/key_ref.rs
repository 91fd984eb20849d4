//! Naming a data-encryption key: one version of one tenant's key ring for
//! one classification.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::classification::Classification;
use crate::ids::TenantId;

/// One version of a tenant's data key for a classification. Versions start
/// at 1 and are never reused, so a `KeyRef` names the same key material for
/// its whole life (which is what makes caching unwrapped keys safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyRef {
    pub tenant: TenantId,
    pub classification: Classification,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed key id (expected tenant:<uuid>/<classification>/v<version>)")]
pub struct MalformedKeyId;

impl KeyRef {
    pub const fn new(tenant: TenantId, classification: Classification, version: u32) -> Self {
        Self {
            tenant,
            classification,
            version,
        }
    }

    /// The stable, human-readable id: `tenant:<uuid>/confidential/v3`.
    /// Used in logs, audit events and as the AAD of the wrapped key.
    pub fn id(&self) -> String {
        self.to_string()
    }

    /// The same ring, another version.
    pub const fn with_version(self, version: u32) -> Self {
        Self { version, ..self }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tenant:{}/{}/v{}",
            self.tenant.as_uuid().hyphenated(),
            self.classification,
            self.version
        )
    }
}

impl FromStr for KeyRef {
    type Err = MalformedKeyId;

    /// Accepts only the canonical form `Display` writes (lower-case
    /// hyphenated uuid, no leading zeros, version >= 1), so one key has
    /// exactly one id string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix("tenant:").ok_or(MalformedKeyId)?;
        let mut parts = rest.split('/');
        let (Some(tenant), Some(class), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MalformedKeyId);
        };
        let tenant: TenantId = tenant.parse().map_err(|_| MalformedKeyId)?;
        let classification: Classification = class.parse().map_err(|_| MalformedKeyId)?;
        let version: u32 = version
            .strip_prefix('v')
            .ok_or(MalformedKeyId)?
            .parse()
            .map_err(|_| MalformedKeyId)?;
        let key = KeyRef::new(tenant, classification, version);
        if version == 0 || key.to_string() != s {
            return Err(MalformedKeyId);
        }
        Ok(key)
    }
}

/// The associated data a wrapped data key is sealed with under the master
/// key: a wrapped key copied into another key slot fails to unwrap.
pub fn dek_wrap_aad(key: &KeyRef) -> Vec<u8> {
    format!("isms:dek:v1:{key}").into_bytes()
}
