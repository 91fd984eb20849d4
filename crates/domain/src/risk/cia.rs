//! The security properties a threat can compromise.

use serde::{Deserialize, Serialize};

use super::enums::string_enum;

string_enum!(
    /// One of the three properties of information security (ISO/IEC 27000).
    CiaProperty, field = "targets" {
        Confidentiality => "confidentiality",
        Integrity => "integrity",
        Availability => "availability",
    }
);

/// A set of CIA properties. Serialised as a list of names in C, I, A order
/// so that stored JSON is stable whatever order the input used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<CiaProperty>", into = "Vec<CiaProperty>")]
pub struct CiaSet {
    bits: u8,
}

impl CiaSet {
    pub const EMPTY: CiaSet = CiaSet { bits: 0 };
    pub const ALL: CiaSet = CiaSet { bits: 0b111 };

    const fn bit(p: CiaProperty) -> u8 {
        match p {
            CiaProperty::Confidentiality => 1,
            CiaProperty::Integrity => 2,
            CiaProperty::Availability => 4,
        }
    }

    pub fn of(props: &[CiaProperty]) -> Self {
        props.iter().fold(Self::EMPTY, |s, p| s.with(*p))
    }

    #[must_use]
    pub const fn with(self, p: CiaProperty) -> Self {
        Self {
            bits: self.bits | Self::bit(p),
        }
    }

    pub const fn contains(self, p: CiaProperty) -> bool {
        self.bits & Self::bit(p) != 0
    }

    pub const fn is_empty(self) -> bool {
        self.bits == 0
    }

    pub fn iter(self) -> impl Iterator<Item = CiaProperty> {
        CiaProperty::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }
}

impl From<Vec<CiaProperty>> for CiaSet {
    fn from(v: Vec<CiaProperty>) -> Self {
        Self::of(&v)
    }
}

impl From<CiaSet> for Vec<CiaProperty> {
    fn from(s: CiaSet) -> Self {
        s.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_semantics_and_stable_serialisation() {
        use CiaProperty::*;
        let s = CiaSet::of(&[Availability, Confidentiality, Availability]);
        assert!(s.contains(Confidentiality) && s.contains(Availability));
        assert!(!s.contains(Integrity));
        assert_eq!(
            serde_json::to_string(&s).ok().as_deref(),
            Some(r#"["confidentiality","availability"]"#)
        );
        assert!(CiaSet::EMPTY.is_empty());
        assert_eq!(CiaSet::ALL.iter().count(), 3);
        let back: Option<CiaSet> = serde_json::from_str(r#"["integrity"]"#).ok();
        assert_eq!(back, Some(CiaSet::of(&[Integrity])));
    }
}
