//! Identifiers of the risk register. Same shape as `crate::ids`: UUIDv7
//! newtypes, so rows stay time-ordered for keyset pagination. The macro is
//! repeated here because the one in `crate::ids` is private to that module.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! risk_id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

risk_id_type!(
    /// Identifies an asset in the inventory (Annex A 5.9).
    AssetId
);
risk_id_type!(
    /// Identifies a threat in a tenant's threat register.
    ThreatId
);
risk_id_type!(
    /// Identifies a known vulnerability.
    VulnerabilityId
);
risk_id_type!(
    /// Identifies a risk: one asset × threat × optional vulnerability.
    RiskId
);
risk_id_type!(
    /// Identifies one run of the assessment engine over one asset.
    AssessmentId
);
risk_id_type!(
    /// Identifies a risk treatment plan entry.
    TreatmentId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_ordered_and_round_trip() {
        let a = RiskId::new();
        let b = RiskId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<RiskId>().ok(), Some(a));
        assert!(format!("{a:?}").starts_with("RiskId("));
    }
}
