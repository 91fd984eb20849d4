//! Per-data-subject keys for crypto-shredding (GDPR art. 17, ISO 27001
//! A.8.10): personal data of one subject is sealed under that subject's
//! own key, so destroying the key erases the data everywhere it was
//! copied, backups included.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{TenantId, UserId};
use crate::time::Timestamp;

pub const MAX_SUBJECT_ID_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subject id must be 1 to {MAX_SUBJECT_ID_LEN} bytes without control characters")]
pub struct InvalidSubjectId;

/// Identifies a data subject within a tenant: a user (`user:<uuid>`) or
/// any other person the ISMS holds data about, named by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubjectId(String);

impl SubjectId {
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidSubjectId> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_SUBJECT_ID_LEN || id.chars().any(char::is_control) {
            return Err(InvalidSubjectId);
        }
        Ok(Self(id))
    }

    /// The subject that is one of the tenant's users.
    pub fn user(user: UserId) -> Self {
        Self(format!("user:{user}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SubjectId {
    type Error = InvalidSubjectId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<SubjectId> for String {
    fn from(id: SubjectId) -> Self {
        id.0
    }
}

/// A subject's key as stored: wrapped under the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKeyRecord {
    pub tenant: TenantId,
    pub subject: SubjectId,
    /// Starts at 1; lets a subject be re-keyed later without a new format.
    pub version: u32,
    pub wrapped_key: Vec<u8>,
    pub created_at: Timestamp,
}

impl fmt::Debug for SubjectKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKeyRecord")
            .field("tenant", &self.tenant)
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What the store holds for a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectKeyLookup {
    Live(SubjectKeyRecord),
    /// The key was destroyed (the subject was forgotten): its data is
    /// gone for good and no new key is issued for it.
    Destroyed {
        destroyed_at: Timestamp,
    },
}

/// The AAD a subject key is wrapped with: the wrapped key only unwraps
/// for the tenant, subject and version it was made for. The subject id is
/// length-prefixed because it is free text.
pub fn subject_key_wrap_aad(tenant: TenantId, subject: &SubjectId, version: u32) -> Vec<u8> {
    let s = subject.as_str();
    format!(
        "isms:subject-key:v1:tenant:{tenant}/subject:{}:{s}/v{version}",
        s.len()
    )
    .into_bytes()
}
