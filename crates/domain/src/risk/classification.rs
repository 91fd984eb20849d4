//! Information classification (Annex A 5.12). Self-contained so it can move
//! to a shared module once the crypto engine needs it too: it depends on
//! nothing else in `risk`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Ordered from least to most sensitive, so `Ord` compares sensitivity.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_order_is_sensitivity() {
        for c in Classification::ALL {
            assert_eq!(Classification::parse(c.as_str()), Ok(c));
        }
        assert!(Classification::parse("secret").is_err());
        assert!(Classification::parse("Public").is_err());
        assert!(Classification::Restricted > Classification::Confidential);
        assert!(Classification::Internal > Classification::Public);
    }
}
