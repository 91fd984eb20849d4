//! Information classification (ISO 27001 A.5.12), shared by assets (risk)
//! and encryption. Each tenant has one key
//! ring per classification, so a leak of one ring's keys does not expose
//! the more sensitive classes, and access rules follow the class.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `Ord` follows sensitivity: `Public < Internal < Confidential < Restricted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown classification (expected one of public, internal, confidential, restricted)")]
pub struct UnknownClassification;

impl Classification {
    pub const ALL: [Classification; 4] = [
        Classification::Public,
        Classification::Internal,
        Classification::Confidential,
        Classification::Restricted,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Restricted => "restricted",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownClassification> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownClassification)
    }

    /// The one-byte code in the envelope header. Codes are part of the
    /// stored format: never renumber them. Zero is left unused so an
    /// all-zero header never decodes.
    pub const fn code(self) -> u8 {
        match self {
            Classification::Public => 1,
            Classification::Internal => 2,
            Classification::Confidential => 3,
            Classification::Restricted => 4,
        }
    }

    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Classification::Public),
            2 => Some(Classification::Internal),
            3 => Some(Classification::Confidential),
            4 => Some(Classification::Restricted),
            _ => None,
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Classification {
    type Err = UnknownClassification;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
