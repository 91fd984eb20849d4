//! Password policy per NIST SP 800-63B §5.1.1.2: length 12..=128
//! characters, no composition rules, not a common or breached password,
//! and not built from the account's e-mail address.
//!
//! The bundled list (`data/common-passwords.txt`) is derived from the list
//! Django ships (`django/contrib/auth/common-passwords.txt.gz`,
//! BSD-3-Clause), itself taken from Royce Williams' breached-password
//! corpus: lower-cased, deduplicated and sorted, so lookups are a binary
//! search.

use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

use crate::email::Email;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    #[error("password must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("password must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("password is on the list of common or breached passwords")]
    Common,
    #[error("password must not contain the e-mail address's local part")]
    ContainsEmail,
}

impl PasswordRule {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRule::TooShort { .. } => "password_too_short",
            PasswordRule::TooLong { .. } => "password_too_long",
            PasswordRule::Common => "password_common",
            PasswordRule::ContainsEmail => "password_contains_email",
        }
    }
}

fn common_list() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect())
}

/// Number of entries in the embedded list.
pub fn common_password_count() -> usize {
    common_list().len()
}

/// Local parts shorter than this are not checked: a rule against every
/// password containing "jo" would reject far more than it protects.
const MIN_LOCAL_PART_CHARS: usize = 3;

/// Checks `password` against the policy; `email` is the account's address
/// when known.
pub fn check_password(password: &str, email: Option<&Email>) -> Result<(), PasswordRule> {
    let normalised: String = password.nfkc().collect();
    let chars = normalised.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordRule::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordRule::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    let lower = normalised.to_lowercase();
    if let Some(local) = email.map(Email::local_part)
        && local.chars().count() >= MIN_LOCAL_PART_CHARS
        && lower.contains(local)
    {
        return Err(PasswordRule::ContainsEmail);
    }
    if common_list().binary_search(&lower.as_str()).is_ok() {
        return Err(PasswordRule::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(
            check_password("abcdefghijk", None),
            Err(PasswordRule::TooShort { min: 12 })
        );
        assert!(check_password("xq7-vv2-kk9w", None).is_ok());
        // Twelve two-byte characters pass; eleven do not.
        assert!(check_password(&"ä".repeat(12), None).is_ok());
        assert!(check_password(&"ä".repeat(11), None).is_err());
        assert!(check_password(&"zq".repeat(64), None).is_ok());
        assert_eq!(
            check_password(&format!("{}x", "zq".repeat(64)), None),
            Err(PasswordRule::TooLong { max: 128 })
        );
    }

    #[test]
    fn common_passwords_rejected_in_any_case() {
        let sample = common_list()
            .iter()
            .find(|p| {
                p.chars().count() >= MIN_PASSWORD_CHARS
                    && p.chars().all(|c| c.is_ascii_alphabetic())
            })
            .copied()
            .unwrap();
        assert_eq!(check_password(sample, None), Err(PasswordRule::Common));
        assert_eq!(
            check_password(&sample.to_uppercase(), None),
            Err(PasswordRule::Common)
        );
        assert_eq!(
            check_password("password1234", None),
            Err(PasswordRule::Common)
        );
    }

    #[test]
    fn passphrases_accepted() {
        assert!(check_password("correct horse battery staple", None).is_ok());
    }

    #[test]
    fn email_local_part_rejected_case_insensitively() {
        let email = Email::parse("Margaret@example.com").unwrap();
        assert_eq!(
            check_password("MyNameIsMARGARET!", Some(&email)),
            Err(PasswordRule::ContainsEmail)
        );
        let short = Email::parse("jo@example.com").unwrap();
        assert!(check_password("jo-lives-in-the-hills", Some(&short)).is_ok());
    }

    #[test]
    fn list_is_large_sorted_and_lower_case() {
        let list = common_list();
        assert!(common_password_count() >= 10_000);
        assert!(list.windows(2).all(|w| w[0] < w[1]));
        assert!(list.iter().all(|p| *p == p.to_lowercase()));
    }

    proptest! {
        #[test]
        fn random_long_strings_fail_only_as_common(p in "[a-z]{4}-[A-Z0-9]{8,20}") {
            let r = check_password(&p, None);
            prop_assert!(r.is_ok() || r == Err(PasswordRule::Common));
        }

        #[test]
        fn never_panics(p in ".*") {
            let _ = check_password(&p, None);
        }
    }
}
