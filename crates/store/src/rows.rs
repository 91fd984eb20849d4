//! Row types shared by both backends (`FromRow` is derived generically over
//! the row type) and their conversion to domain entities.

use chrono::{DateTime, Utc};
use isms_domain::email::Email;
use isms_domain::ports::RepoError;
use isms_domain::tenant::{Tenant, TenantName};
use isms_domain::user::{PasswordHash, User};
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

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    display_name: String,
    role: String,
    is_active: bool,
    password_hash: String,
    password_changed_at: Option<DateTime<Utc>>,
    password_must_change: bool,
    last_login_at: Option<DateTime<Utc>>,
    last_access_review_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<UserRow> for User {
    type Error = RepoError;
    fn try_from(r: UserRow) -> Result<Self, Self::Error> {
        Ok(User {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            email: Email::parse(&r.email).map_err(|_| corrupt("e-mail"))?,
            display_name: r.display_name,
            role: r.role.parse().map_err(|_| corrupt("role"))?,
            is_active: r.is_active,
            password_hash: PasswordHash::new(r.password_hash),
            password_changed_at: r.password_changed_at,
            password_must_change: r.password_must_change,
            last_login_at: r.last_login_at,
            last_access_review_at: r.last_access_review_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}
