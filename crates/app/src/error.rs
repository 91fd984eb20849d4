//! The application layer's error type. Internal detail stays in the
//! variants' payloads for logging; the HTTP layer decides what a client sees.

use isms_domain::ports::{HashError, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input broke a rule; `field` and `code` name which.
    #[error("{message}")]
    Validation {
        field: &'static str,
        code: &'static str,
        message: String,
    },
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; names the rule.
    #[error("conflict on {0}")]
    Conflict(&'static str),
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn validation(field: &'static str, code: &'static str, message: impl ToString) -> Self {
        AppError::Validation {
            field,
            code,
            message: message.to_string(),
        }
    }
}

impl From<RepoError> for AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => AppError::NotFound,
            RepoError::Conflict(rule) => AppError::Conflict(rule),
            RepoError::Unavailable(m) => AppError::Unavailable(m),
            RepoError::Internal(m) => AppError::Internal(m),
        }
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        AppError::Internal(e.to_string())
    }
}
