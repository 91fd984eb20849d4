//! E-mail addresses as identities: one canonical form so that uniqueness and
//! login lookups cannot be bypassed with case, width or whitespace variants.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest address accepted (RFC 5321 path limit minus the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail address is empty")]
    Empty,
    #[error("e-mail address is longer than {MAX_EMAIL_LEN} characters")]
    TooLong,
    #[error("e-mail address must have the form local@domain")]
    Malformed,
}

/// A normalised e-mail address: trimmed, NFKC-normalised and lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Normalises and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalised: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if normalised.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalised.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        let local_ok = !local.is_empty() && local.chars().count() <= 64 && !local.contains('@');
        let no_space_or_control = !normalised
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
        if !(domain_ok && local_ok && no_space_or_control) {
            return Err(EmailError::Malformed);
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, used by the password policy.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl fmt::Debug for Email {
    // E-mail is personal data: keep it out of debug output (and so of logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(..)")
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_width_and_whitespace() {
        let a = Email::parse("  Alice@Example.COM ").unwrap();
        // Fullwidth letters fold to ASCII under NFKC.
        let b = Email::parse("ａｌｉｃｅ@example.com").unwrap();
        assert_eq!(a.as_str(), "alice@example.com");
        assert_eq!(a, b);
        assert_eq!(a.local_part(), "alice");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "   ",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "alice@.com",
            "alice@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn debug_hides_the_address() {
        let e = Email::parse("alice@example.com").unwrap();
        assert!(!format!("{e:?}").contains("alice"));
    }
}
