//! One place maps `sqlx` errors to the domain's `RepoError`.

use isms_domain::ports::RepoError;

/// Unique indexes and the rule each enforces, as the domain names it.
const UNIQUE_RULES: &[(&str, &str)] = &[
    ("users_email_live", "email"),
    ("users_email_bidx_live", "email"),
    ("users.email", "email"),
    ("tenants_name_key_live", "tenant_name"),
    ("tenants.name_key", "tenant_name"),
    ("risks_exposure_live", "exposure"),
];

pub(crate) fn map(err: sqlx::Error) -> RepoError {
    match err {
        sqlx::Error::RowNotFound => RepoError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // PostgreSQL names the index; SQLite names table.column in the message.
            let haystack = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            let rule = UNIQUE_RULES
                .iter()
                .find(|(needle, _)| haystack.contains(needle))
                .map_or("unique", |(_, rule)| *rule);
            RepoError::Conflict(rule)
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            RepoError::Unavailable(err.to_string())
        }
        sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
            RepoError::Unavailable(db.message().to_owned())
        }
        other => RepoError::Internal(other.to_string()),
    }
}

/// SQLite busy/locked and PostgreSQL statement timeout, shutdown and
/// connection failures: the store is there but cannot answer now.
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "5" | "6"
                | "261"
                | "517"
                | "57014"
                | "57P01"
                | "57P02"
                | "57P03"
                | "08000"
                | "08003"
                | "08006"
        )
    )
}
