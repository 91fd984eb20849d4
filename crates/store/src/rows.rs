//! Row types shared by both backends (`FromRow` is derived generically over
//! the row type) and their conversion to domain entities.

use chrono::{DateTime, Utc};
use isms_domain::ports::RepoError;
use isms_domain::tenant::{Tenant, TenantName};
use uuid::Uuid;

fn corrupt(what: &str) -> RepoError {
    RepoError::Internal(format!("stored {what} is invalid"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    id: Uuid,
    name: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = RepoError;
    fn try_from(r: TenantRow) -> Result<Self, Self::Error> {
        Ok(Tenant {
            id: r.id.into(),
            name: TenantName::parse(&r.name).map_err(|_| corrupt("tenant name"))?,
            status: r.status.parse().map_err(|_| corrupt("tenant status"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}
