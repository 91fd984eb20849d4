//! Password policy per NIST SP 800-63B §5.1.1.2: length 12..=128
//! characters, no composition rules, not a common or breached password,
//! and not built from the account's e-mail address.
//!
//! Length is counted in Unicode scalar values after NFKC normalisation, so
//! that "ä" (one or two code points, two or three bytes) counts once.
//! Whitespace is allowed and is not trimmed: it is part of the secret.
//!
//! The bundled list (`data/common-passwords.txt`, one password per line,
//! lower-cased, deduplicated and sorted in byte order) is derived from the
//! list Django ships (`django/contrib/auth/common-passwords.txt.gz`,
//! BSD-3-Clause), itself from Royce Williams' breached-password corpus.
//! It is embedded at compile time; lookups are a binary search.

use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::email::Email;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Local parts shorter than this are not checked: a rule against every
/// password containing, say, "jo" or "al" would reject far more good
/// passwords than it protects.
const MIN_LOCAL_PART_CHARS: usize = 3;

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
    /// Stable machine-readable code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRule::TooShort { .. } => "password_too_short",
            PasswordRule::TooLong { .. } => "password_too_long",
            PasswordRule::Common => "password_common",
            PasswordRule::ContainsEmail => "password_contains_email",
        }
    }
}

/// The embedded list, split once. The file is sorted in byte order, which is
/// the order of `str`'s `Ord`, so `binary_search` is valid (a test checks).
fn common_list() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect())
}

/// Number of entries in the embedded list (for tests and docs).
pub fn common_password_count() -> usize {
    common_list().len()
}

/// Checks `password` against the policy; `email` is the account's address
/// when known.
///
/// Checks run in this order: too short, too long, contains the e-mail local
/// part, common. The first failing rule is returned.
pub fn check_password(password: &str, email: Option<&Email>) -> Result<(), PasswordRule> {
    // NFKC is lazy: stop after MAX + 1 characters, which is enough to know
    // the password is too long, so oversized input costs bounded work. The
    // buffer is sized for the worst case (4 bytes per char) so it never
    // reallocates, and is wiped on drop (best effort; the caller still owns
    // the original).
    let mut normalised = Zeroizing::new(String::with_capacity((MAX_PASSWORD_CHARS + 1) * 4));
    normalised.extend(password.nfkc().take(MAX_PASSWORD_CHARS + 1));
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
    // Same order as `Email::parse` (NFKC, then lower-case), so the local
    // part and the password are compared in the same canonical form.
    let lower = Zeroizing::new(normalised.to_lowercase());
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
    fn length_boundaries_ascii() {
        assert_eq!(
            check_password("abcdefghijk", None),
            Err(PasswordRule::TooShort { min: 12 })
        );
        assert_eq!(check_password("xq7-vv2-kk9w", None), Ok(()));
        assert_eq!(check_password(&"zq".repeat(64), None), Ok(()));
        assert_eq!(
            check_password(&format!("{}x", "zq".repeat(64)), None),
            Err(PasswordRule::TooLong { max: 128 })
        );
        assert_eq!(
            check_password(&"x".repeat(1_000_000), None),
            Err(PasswordRule::TooLong { max: 128 })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // "ä" is two bytes in UTF-8, "€" three, "🔑" four.
        assert_eq!(
            check_password(&"ä".repeat(11), None),
            Err(PasswordRule::TooShort { min: 12 })
        );
        assert_eq!(check_password(&"ä".repeat(12), None), Ok(()));
        assert_eq!(check_password(&"€🔑".repeat(64), None), Ok(()));
        assert_eq!(
            check_password(&format!("{}ä", "€🔑".repeat(64)), None),
            Err(PasswordRule::TooLong { max: 128 })
        );
    }

    #[test]
    fn length_is_counted_after_nfkc() {
        // "a" + COMBINING DIAERESIS composes to one "ä": 12 code points in,
        // 6 characters out.
        assert_eq!(
            check_password(&"a\u{0308}".repeat(6), None),
            Err(PasswordRule::TooShort { min: 12 })
        );
        // The "ﬃ" ligature expands to "ffi": 4 code points in, 12 out.
        assert_eq!(check_password(&"\u{FB03}".repeat(4), None), Ok(()));
    }

    #[test]
    fn whitespace_is_kept_and_counted() {
        // Ten characters plus two spaces: trimming would make it too short.
        assert_eq!(check_password("  tenletters", None), Ok(()));
        assert_eq!(check_password("tenletters  ", None), Ok(()));
        assert_eq!(
            check_password(" tenletters", None),
            Err(PasswordRule::TooShort { min: 12 })
        );
    }

    #[test]
    fn common_passwords_rejected_in_any_case() {
        for p in [
            "password1234",
            "PASSWORD1234",
            "PassWord1234",
            "qwerty123456",
            "QwErTy123456",
            "1q2w3e4r5t6y",
            "administrator",
            "Administrator",
        ] {
            assert_eq!(check_password(p, None), Err(PasswordRule::Common), "{p}");
        }
        // Full-width characters fold to ASCII under NFKC.
        assert_eq!(
            check_password("ｐａｓｓｗｏｒｄ１２３４", None),
            Err(PasswordRule::Common)
        );
        // Every long-enough entry is rejected, exactly as listed.
        for p in common_list()
            .iter()
            .filter(|p| p.chars().count() >= MIN_PASSWORD_CHARS)
        {
            assert_eq!(check_password(p, None), Err(PasswordRule::Common), "{p}");
        }
    }

    #[test]
    fn near_misses_and_passphrases_accepted() {
        assert_eq!(check_password("password1234!", None), Ok(()));
        assert_eq!(check_password("correct horse battery staple", None), Ok(()));
        assert_eq!(check_password("Vq8#mZ2!tR6@pL4$wK", None), Ok(()));
        // No composition rules: all lower-case letters is fine.
        assert_eq!(check_password("lkjhqwpoizmxncbv", None), Ok(()));
    }

    #[test]
    fn email_local_part_rejected_case_insensitively() {
        let email = Email::parse("Margaret@example.com").unwrap();
        assert_eq!(
            check_password("MyNameIsMARGARET!", Some(&email)),
            Err(PasswordRule::ContainsEmail)
        );
        assert_eq!(
            check_password("margaret-lives-here", Some(&email)),
            Err(PasswordRule::ContainsEmail)
        );
        assert_eq!(check_password("MyNameIsMargo!!", Some(&email)), Ok(()));
        // Three characters is enough to trigger the rule.
        let three = Email::parse("bob@example.com").unwrap();
        assert_eq!(
            check_password("i-am-BOB-the-builder", Some(&three)),
            Err(PasswordRule::ContainsEmail)
        );
    }

    #[test]
    fn short_local_part_does_not_trigger() {
        let short = Email::parse("jo@example.com").unwrap();
        assert_eq!(
            check_password("jo-lives-in-the-hills", Some(&short)),
            Ok(())
        );
    }

    #[test]
    fn contains_email_is_checked_before_common() {
        let email = Email::parse("password@example.com").unwrap();
        assert_eq!(
            check_password("password1234", Some(&email)),
            Err(PasswordRule::ContainsEmail)
        );
        // Length comes first of all.
        assert_eq!(
            check_password("password", Some(&email)),
            Err(PasswordRule::TooShort { min: 12 })
        );
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            PasswordRule::TooShort { min: 12 }.code(),
            "password_too_short"
        );
        assert_eq!(
            PasswordRule::TooLong { max: 128 }.code(),
            "password_too_long"
        );
        assert_eq!(PasswordRule::Common.code(), "password_common");
        assert_eq!(
            PasswordRule::ContainsEmail.code(),
            "password_contains_email"
        );
        assert_eq!(
            PasswordRule::TooShort { min: 12 }.to_string(),
            "password must be at least 12 characters long"
        );
    }

    #[test]
    fn list_is_large_sorted_and_lower_case() {
        let list = common_list();
        assert!(common_password_count() >= 10_000);
        assert_eq!(common_password_count(), list.len());
        // Strictly increasing: sorted (so binary search is valid) and unique.
        assert!(list.windows(2).all(|w| w[0] < w[1]));
        assert!(list.iter().all(|p| *p == p.to_lowercase()));
        assert!(list.iter().all(|p| *p == p.trim() && !p.is_empty()));
        assert!(COMMON_PASSWORDS.ends_with('\n'));
    }

    proptest! {
        #[test]
        fn in_range_strings_fail_only_as_common(p in "[a-z]{4}-[A-Z0-9]{7,123}") {
            let n = p.chars().count();
            prop_assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n));
            let r = check_password(&p, None);
            prop_assert!(r.is_ok() || r == Err(PasswordRule::Common));
        }

        #[test]
        fn embedded_local_part_is_rejected(
            local in "[a-z]{3,20}",
            pre in "[0-9]{0,10}",
            post in "[0-9!#]{12,20}",
        ) {
            let email = Email::parse(&format!("{local}@example.com")).unwrap();
            let password = format!("{pre}{}{post}", local.to_uppercase());
            prop_assert_eq!(
                check_password(&password, Some(&email)),
                Err(PasswordRule::ContainsEmail)
            );
        }

        #[test]
        fn never_panics(p in ".*") {
            let _ = check_password(&p, None);
        }

        #[test]
        fn never_panics_with_email(p in ".*", local in "[a-z0-9.]{1,20}") {
            if let Ok(email) = Email::parse(&format!("{local}@example.com")) {
                let _ = check_password(&p, Some(&email));
            }
        }
    }
}
