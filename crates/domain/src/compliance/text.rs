//! Free-text validation shared by the SoA, GDPR records and check
//! messages. Errors are the risk module's `ValidationError`, so the HTTP
//! layer maps every domain validation failure to the same 422 body.

use crate::risk::{Problem, ValidationError};

/// Justifications, evidence descriptions and similar prose.
pub const MAX_PROSE_CHARS: usize = 2_000;
/// Purposes, categories and other one-line labels.
pub const MAX_LABEL_CHARS: usize = 200;
/// External data-subject ids and other opaque references.
pub const MAX_REFERENCE_CHARS: usize = 128;

/// A required one-line text: trimmed, non-empty, no control characters.
pub(crate) fn line(
    field: &'static str,
    raw: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
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

/// Prose: line breaks and tabs allowed, other control characters (which
/// hide text in exports and terminals) refused. May be empty.
pub(crate) fn prose(
    field: &'static str,
    raw: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
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

fn check_len(field: &'static str, value: &str, max_chars: usize) -> Result<(), ValidationError> {
    if value.chars().count() > max_chars {
        return Err(ValidationError::new(field, Problem::TooLong { max_chars }));
    }
    Ok(())
}

/// Makes arbitrary text (an adapter's error message) safe to store and
/// show: control characters become spaces and the length is capped, so a
/// failing port cannot write a megabyte or terminal escapes into a result.
pub(crate) fn sanitise(raw: &str, max_chars: usize) -> String {
    let mut out: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if raw.trim().chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_trims_and_refuses_blank_long_and_control() {
        assert_eq!(line("f", "  a b ", 10).ok().as_deref(), Some("a b"));
        assert_eq!(
            line("f", "   ", 10).map_err(|e| e.problem),
            Err(Problem::Empty)
        );
        assert_eq!(
            line("f", "abcdef", 5).map_err(|e| e.problem),
            Err(Problem::TooLong { max_chars: 5 })
        );
        assert_eq!(
            line("f", "a\nb", 5).map_err(|e| e.problem),
            Err(Problem::ControlCharacter)
        );
    }

    #[test]
    fn prose_allows_line_breaks_only() {
        assert!(prose("f", "a\nb\tc", 10).is_ok());
        assert!(prose("f", "", 10).is_ok());
        assert!(prose("f", "a\u{1b}[31m", 10).is_err());
    }

    #[test]
    fn sanitise_caps_and_neutralises() {
        assert_eq!(sanitise("db\ndown", 100), "db down");
        assert_eq!(sanitise("abcdef", 3), "abc…");
    }
}
