//! References to ISO/IEC 27001:2022 Annex A controls, e.g. `8.24`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{Problem, ValidationError};

/// Controls per theme in the 2022 edition: 5 organisational (37),
/// 6 people (8), 7 physical (14), 8 technological (34).
const CONTROLS_PER_THEME: [(u8, u8); 4] = [(5, 37), (6, 8), (7, 14), (8, 34)];

/// An Annex A control id. Checked against the 2022 numbering, not only the
/// `^[5-8]\.\d{1,2}$` shape, so that `8.99` is refused rather than planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ControlId {
    theme: u8,
    number: u8,
}

impl ControlId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let malformed = || {
            ValidationError::new(
                "planned_controls",
                Problem::Malformed {
                    expected: "an Annex A 2022 control id such as 8.24",
                },
            )
        };
        let s = raw.trim();
        let (theme, number) = s.split_once('.').ok_or_else(malformed)?;
        let digits = |p: &str, max_len| {
            !p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit())
        };
        // A leading zero ("8.01") would give one control two spellings.
        if !digits(theme, 1) || !digits(number, 2) || number.starts_with('0') {
            return Err(malformed());
        }
        let theme: u8 = theme.parse().map_err(|_| malformed())?;
        let number: u8 = number.parse().map_err(|_| malformed())?;
        let count = CONTROLS_PER_THEME
            .iter()
            .find(|(t, _)| *t == theme)
            .map(|(_, n)| *n)
            .ok_or_else(malformed)?;
        if number > count {
            return Err(ValidationError::new(
                "planned_controls",
                Problem::Inconsistent("no such control in ISO/IEC 27001:2022 Annex A"),
            ));
        }
        Ok(Self { theme, number })
    }

    pub const fn theme(self) -> u8 {
        self.theme
    }

    pub const fn number(self) -> u8 {
        self.number
    }
}

impl TryFrom<String> for ControlId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ControlId> for String {
    fn from(c: ControlId) -> String {
        c.to_string()
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.theme, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_2022_ids_only() {
        for ok in ["5.1", "5.37", "6.8", "7.14", "8.24", "8.34", " 8.9 "] {
            assert!(ControlId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "4.1", "9.1", "8.35", "5.38", "6.9", "7.15", "8.0", "8.01", "8", "8.", ".1", "8.100",
            "A.8.24", "8.2a", "10.1",
        ] {
            assert!(ControlId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ControlId::parse("8.24")
                .map(|c| c.to_string())
                .ok()
                .as_deref(),
            Some("8.24")
        );
    }
}
