//! Database URLs select the backend and may carry a password, so they are
//! never printed whole.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("database URL must start with sqlite: or postgres://")]
    UnknownScheme,
    #[error("database URL is not a valid URL")]
    Invalid,
}

#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        let backend = if raw.starts_with("sqlite:") {
            Backend::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = url::Url::parse(raw).map_err(|_| DatabaseUrlError::Invalid)?;
            if parsed.host_str().is_none_or(str::is_empty) && !raw.contains("host=") {
                return Err(DatabaseUrlError::Invalid);
            }
            Backend::Postgres
        } else {
            return Err(DatabaseUrlError::UnknownScheme);
        };
        Ok(Self {
            raw: raw.to_owned(),
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The full URL, password included: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with any password masked, for logs and diagnostics.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.raw) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("[REDACTED]"));
                u.to_string()
            }
            _ => self.raw.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_and_redaction() {
        let pg = DatabaseUrl::parse("postgres://app:hunter2@db.example:5432/isms").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert!(!format!("{pg:?} {pg}").contains("hunter2"));
        assert!(pg.expose().contains("hunter2"));
        let lite = DatabaseUrl::parse("sqlite://./data/isms.db").unwrap();
        assert_eq!(lite.backend(), Backend::Sqlite);
        assert_eq!(
            DatabaseUrl::parse("mysql://x"),
            Err(DatabaseUrlError::UnknownScheme)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://"),
            Err(DatabaseUrlError::Invalid)
        );
    }
}
