//! Tenants: each organisation's ISMS lives in its own tenant; every
//! tenant-scoped row carries the tenant id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::ids::TenantId;
use crate::time::Timestamp;

pub const MAX_TENANT_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TenantNameError {
    #[error("tenant name must not be empty")]
    Empty,
    #[error("tenant name must be at most {MAX_TENANT_NAME_CHARS} characters")]
    TooLong,
    #[error("tenant name must not contain control characters")]
    ControlCharacter,
}

/// A validated tenant name. Names are unique without regard to case, so
/// that `--tenant acme` on the command line is never ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, TenantNameError> {
        let name: String = raw.trim().nfkc().collect();
        if name.is_empty() {
            return Err(TenantNameError::Empty);
        }
        if name.chars().count() > MAX_TENANT_NAME_CHARS {
            return Err(TenantNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(TenantNameError::ControlCharacter);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is enforced on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for TenantName {
    type Error = TenantNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantName> for String {
    fn from(value: TenantName) -> Self {
        value.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tenant status")]
pub struct UnknownTenantStatus;

impl TenantStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

impl FromStr for TenantStatus {
    type Err = UnknownTenantStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(TenantStatus::Active),
            "suspended" => Ok(TenantStatus::Suspended),
            _ => Err(UnknownTenantStatus),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    pub status: TenantStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

impl Tenant {
    pub fn new(name: TenantName, now: Timestamp) -> Self {
        Self {
            id: TenantId::new(),
            name,
            status: TenantStatus::Active,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keyed_case_insensitively() {
        let a = TenantName::parse("  Acme Corp ").unwrap();
        assert_eq!(a.as_str(), "Acme Corp");
        assert_eq!(a.key(), TenantName::parse("ACME CORP").unwrap().key());
    }

    #[test]
    fn bad_names_rejected() {
        assert_eq!(TenantName::parse("  "), Err(TenantNameError::Empty));
        assert_eq!(
            TenantName::parse(&"x".repeat(101)),
            Err(TenantNameError::TooLong)
        );
        assert_eq!(
            TenantName::parse("a\u{0007}b"),
            Err(TenantNameError::ControlCharacter)
        );
    }
}
