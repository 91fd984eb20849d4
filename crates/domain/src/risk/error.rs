//! The one validation error of the risk module: which field, and what is
//! wrong with it. HTTP maps it to a 422 naming `field`, so the field names
//! here are the snake_case names of the JSON bodies.

use std::fmt;

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Empty,
    TooLong {
        max_chars: usize,
    },
    ControlCharacter,
    OutOfRange {
        min: i64,
        max: i64,
    },
    Malformed {
        expected: &'static str,
    },
    TooMany {
        max: usize,
    },
    Duplicate,
    NotMonotone,
    /// A rule across fields; the text says which.
    Inconsistent(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("must not be empty"),
            Problem::TooLong { max_chars } => write!(f, "must be at most {max_chars} characters"),
            Problem::ControlCharacter => f.write_str("must not contain control characters"),
            Problem::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Problem::Malformed { expected } => write!(f, "must have the form {expected}"),
            Problem::TooMany { max } => write!(f, "must have at most {max} entries"),
            Problem::Duplicate => f.write_str("must not contain duplicates"),
            Problem::NotMonotone => f.write_str("must not decrease from one level to the next"),
            Problem::Inconsistent(why) => f.write_str(why),
        }
    }
}

/// A field failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: &'static str,
    pub problem: Problem,
}

impl ValidationError {
    pub const fn new(field: &'static str, problem: Problem) -> Self {
        Self { field, problem }
    }

    pub(crate) fn out_of_range(field: &'static str, min: i64, max: i64) -> Self {
        Self::new(field, Problem::OutOfRange { min, max })
    }
}
