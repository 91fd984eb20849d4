//! Ordinal ratings an asset owner gives an asset.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ValidationError;

/// How much harm a loss of confidentiality, integrity or availability of
/// an asset would cause: 1 (negligible) to 4 (severe). Four steps, not
/// five, so owners cannot park everything on a middle value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Rating(u8);

impl Rating {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 4;

    pub fn parse(field: &'static str, value: u8) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(ValidationError::out_of_range(
                field,
                i64::from(Self::MIN),
                i64::from(Self::MAX),
            ))
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Rating {
    type Error = ValidationError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::parse("rating", value)
    }
}

impl From<Rating> for u8 {
    fn from(r: Rating) -> u8 {
        r.0
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How much the business depends on an asset, 1 (marginal) to 5 (vital).
/// Used to rank assets of equal risk, not in the risk score itself: the
/// CIA ratings already express the consequence of a compromise, and
/// counting value again would score the same harm twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct BusinessValue(u8);

impl BusinessValue {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 5;

    pub fn parse(field: &'static str, value: u8) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(ValidationError::out_of_range(
                field,
                i64::from(Self::MIN),
                i64::from(Self::MAX),
            ))
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for BusinessValue {
    type Error = ValidationError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::parse("business_value", value)
    }
}

impl From<BusinessValue> for u8 {
    fn from(v: BusinessValue) -> u8 {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_accept_only_their_range() {
        assert_eq!(Rating::parse("integrity", 4).map(Rating::get), Ok(4));
        let err = Rating::parse("integrity", 5).err();
        assert_eq!(err.map(|e| e.field), Some("integrity"));
        assert!(Rating::parse("integrity", 0).is_err());
        assert!(BusinessValue::parse("business_value", 5).is_ok());
        assert!(BusinessValue::parse("business_value", 6).is_err());
        assert!(serde_json::from_str::<Rating>("9").is_err());
        assert_eq!(
            serde_json::from_str::<Rating>("3").ok(),
            Rating::parse("r", 3).ok()
        );
    }
}
