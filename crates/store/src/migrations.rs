//! Migrations are embedded in the binary so `isms migrate` works from any
//! directory. Both dialects carry the same version numbers and the same
//! logical schema; sqlx applies each one in its own transaction.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (
        1,
        "tenants users",
        include_str!("../migrations/sqlite/0001_tenants_users.sql"),
    ),
    (
        2,
        "sessions keys",
        include_str!("../migrations/sqlite/0002_sessions_keys.sql"),
    ),
    (
        3,
        "row level security",
        include_str!("../migrations/sqlite/0003_row_level_security.sql"),
    ),
    (
        4,
        "mfa policies",
        include_str!("../migrations/sqlite/0004_mfa_policies.sql"),
    ),
    (
        5,
        "audit log",
        include_str!("../migrations/sqlite/0005_audit_log.sql"),
    ),
    (
        6,
        "risk",
        include_str!("../migrations/sqlite/0006_risk.sql"),
    ),
    (
        7,
        "crypto",
        include_str!("../migrations/sqlite/0007_crypto.sql"),
    ),
    (
        8,
        "drop plaintext pii",
        include_str!("../migrations/sqlite/0008_drop_plaintext_pii.sql"),
    ),
    (
        9,
        "risk register",
        include_str!("../migrations/sqlite/0009_risk.sql"),
    ),
    (
        10,
        "compliance",
        include_str!("../migrations/sqlite/0010_compliance.sql"),
    ),
    (
        11,
        "gdpr",
        include_str!("../migrations/sqlite/0011_gdpr.sql"),
    ),
    (
        12,
        "risk matrix",
        include_str!("../migrations/sqlite/0012_risk_matrix.sql"),
    ),
    (
        13,
        "audit failure indexes",
        include_str!("../migrations/sqlite/0013_audit_failure_indexes.sql"),
    ),
];

const POSTGRES: &[Source] = &[
    (
        1,
        "tenants users",
        include_str!("../migrations/postgres/0001_tenants_users.sql"),
    ),
    (
        2,
        "sessions keys",
        include_str!("../migrations/postgres/0002_sessions_keys.sql"),
    ),
    (
        3,
        "row level security",
        include_str!("../migrations/postgres/0003_row_level_security.sql"),
    ),
    (
        4,
        "mfa policies",
        include_str!("../migrations/postgres/0004_mfa_policies.sql"),
    ),
    (
        5,
        "audit log",
        include_str!("../migrations/postgres/0005_audit_log.sql"),
    ),
    (
        6,
        "risk",
        include_str!("../migrations/postgres/0006_risk.sql"),
    ),
    (
        7,
        "crypto",
        include_str!("../migrations/postgres/0007_crypto.sql"),
    ),
    (
        8,
        "drop plaintext pii",
        include_str!("../migrations/postgres/0008_drop_plaintext_pii.sql"),
    ),
    (
        9,
        "risk register",
        include_str!("../migrations/postgres/0009_risk.sql"),
    ),
    (
        10,
        "compliance",
        include_str!("../migrations/postgres/0010_compliance.sql"),
    ),
    (
        11,
        "gdpr",
        include_str!("../migrations/postgres/0011_gdpr.sql"),
    ),
    (
        12,
        "risk matrix",
        include_str!("../migrations/postgres/0012_risk_matrix.sql"),
    ),
    (
        13,
        "audit failure indexes",
        include_str!("../migrations/postgres/0013_audit_failure_indexes.sql"),
    ),
];

fn migrator(sources: &[Source]) -> Migrator {
    Migrator::with_migrations(
        sources
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The migration after which the application converts plaintext personal
/// data into envelopes; the next one drops the plaintext columns.
pub(crate) const PII_CONVERSION_AFTER: i64 = 7;

pub(crate) fn sqlite(through: Option<i64>) -> Migrator {
    migrator(&upto(SQLITE, through))
}

pub(crate) fn postgres(through: Option<i64>) -> Migrator {
    migrator(&upto(POSTGRES, through))
}

fn upto(sources: &[Source], through: Option<i64>) -> Vec<Source> {
    sources
        .iter()
        .filter(|(v, _, _)| through.is_none_or(|t| *v <= t))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_have_the_same_versions() {
        let v = |s: &[Source]| s.iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(v(SQLITE), v(POSTGRES));
    }
}
