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
    /// Credentials or token rejected; deliberately says nothing more.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Login failed: unknown e-mail, wrong password, inactive or deleted
    /// account all look the same.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Authenticated but not allowed; names the missing permission.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The account holds a one-time password that must be changed first.
    #[error("password change required")]
    PasswordChangeRequired,
    /// A uniqueness rule was broken; names the rule.
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The resource existed and is gone for good (e.g. a one-time
    /// download that was taken); names why.
    #[error("gone: {0}")]
    Gone(&'static str),
    /// Too many failed logins for the account: locked for `retry_after`.
    #[error("account locked")]
    AccountLocked { retry_after: std::time::Duration },
    /// A budget is spent (rate limit, failures per client).
    #[error("rate limited")]
    RateLimited { retry_after: std::time::Duration },
    /// The password was right; the second factor must follow with this
    /// single-use token.
    #[error("second factor required")]
    MfaRequired { mfa_token: secrecy::SecretString },
    /// A login's second factor was wrong, or its challenge is unknown.
    #[error("invalid second factor")]
    InvalidMfaCode,
    /// A code given by an authenticated user (confirm, step-up, disable)
    /// was wrong.
    #[error("invalid code")]
    InvalidCode,
    /// A sensitive action needs a recent second-factor verification.
    #[error("step-up required")]
    StepUp(isms_domain::mfa::StepUpDenied),
    /// The tenant's contextual access policy refused the request; names
    /// the failed constraint.
    #[error("access denied by context: {0}")]
    ContextDenied(&'static str),
    /// The ciphertext's key version no longer decrypts.
    #[error("key retired")]
    KeyRetired,
    /// A ciphertext failed authentication (tampered, wrong context, wrong
    /// tenant, unknown key).
    #[error("decryption failed")]
    DecryptionFailed,
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

impl From<isms_domain::principal::Denied> for AppError {
    fn from(d: isms_domain::principal::Denied) -> Self {
        AppError::Forbidden(d.0.as_str())
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<isms_domain::mfa::StepUpDenied> for AppError {
    fn from(d: isms_domain::mfa::StepUpDenied) -> Self {
        AppError::StepUp(d)
    }
}

impl From<isms_domain::ports::LimiterError> for AppError {
    fn from(e: isms_domain::ports::LimiterError) -> Self {
        AppError::Unavailable(e.to_string())
    }
}
