//! Validation of the free-text fields every risk entity carries. Limits are
//! generous for people and tight enough that a register export or a list
//! page cannot be blown up by one row.

use unicode_normalization::UnicodeNormalization;

use super::error::{Problem, ValidationError};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// Custodian, location, threat source and similar one-line labels.
pub const MAX_LABEL_CHARS: usize = 200;
pub const MAX_COMMENT_CHARS: usize = 2_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;

/// A required one-line text: trimmed, non-empty, no control characters.
pub fn line(field: &'static str, raw: &str, max_chars: usize) -> Result<String, ValidationError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    check_len(field, value, max_chars)?;
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, Problem::ControlCharacter));
    }
    Ok(value.to_owned())
}

/// An optional one-line text; blank counts as absent so that clearing a
/// form field clears the value.
pub fn optional_line(
    field: &'static str,
    raw: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, ValidationError> {
    match raw {
        Some(s) if !s.trim().is_empty() => line(field, s, max_chars).map(Some),
        _ => Ok(None),
    }
}

/// Multi-line prose: line breaks and tabs are allowed, other control
/// characters (which can hide text in exports and terminals) are not.
pub fn prose(field: &'static str, raw: &str, max_chars: usize) -> Result<String, ValidationError> {
    let value = raw.trim();
    check_len(field, value, max_chars)?;
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::new(field, Problem::ControlCharacter));
    }
    Ok(value.to_owned())
}

/// Tags compare equal regardless of case, width and spacing, so they are
/// stored in one canonical form: NFKC, lower case, inner whitespace runs
/// as a single `-`. Duplicates after normalisation are dropped, first
/// occurrence order is kept.
pub fn tags(field: &'static str, raw: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len().min(MAX_TAGS));
    for tag in raw {
        let folded: String = tag.trim().nfkc().collect::<String>().to_lowercase();
        let canonical = folded.split_whitespace().collect::<Vec<_>>().join("-");
        if canonical.is_empty() {
            return Err(ValidationError::new(field, Problem::Empty));
        }
        check_len(field, &canonical, MAX_TAG_CHARS)?;
        if canonical.chars().any(char::is_control) {
            return Err(ValidationError::new(field, Problem::ControlCharacter));
        }
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ValidationError::new(
            field,
            Problem::TooMany { max: MAX_TAGS },
        ));
    }
    Ok(out)
}

fn check_len(field: &'static str, value: &str, max_chars: usize) -> Result<(), ValidationError> {
    if value.chars().count() > max_chars {
        return Err(ValidationError::new(field, Problem::TooLong { max_chars }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn line_trims_and_rejects_blank_long_and_control() {
        assert_eq!(line("name", "  Payroll ", 10).unwrap(), "Payroll");
        assert_eq!(line("name", " ", 10).unwrap_err().problem, Problem::Empty);
        assert_eq!(
            line("name", "abcdefghijk", 10).unwrap_err().problem,
            Problem::TooLong { max_chars: 10 }
        );
        assert_eq!(
            line("name", "a\u{1b}[2J", 10).unwrap_err().problem,
            Problem::ControlCharacter
        );
    }

    #[test]
    fn prose_keeps_line_breaks_but_not_escape_codes() {
        assert_eq!(prose("description", "a\nb\tc", 10).unwrap(), "a\nb\tc");
        assert!(prose("description", "a\u{7}", 10).is_err());
        assert_eq!(prose("description", "", 10).unwrap(), "");
    }

    #[test]
    fn tags_are_canonical_and_deduplicated() {
        let raw = vec![
            " PCI  Scope ".to_owned(),
            "pci scope".to_owned(),
            "ＧＤＰＲ".to_owned(),
        ];
        assert_eq!(tags("tags", &raw).unwrap(), vec!["pci-scope", "gdpr"]);
        assert!(tags("tags", &["  ".to_owned()]).is_err());
        assert!(tags("tags", &["x".repeat(65)]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(
            tags("tags", &many).unwrap_err().problem,
            Problem::TooMany { max: MAX_TAGS }
        );
    }
}
