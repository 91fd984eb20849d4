//! Repository implementations. The statements below are portable SQL
//! (`$n` placeholders, partial indexes, `ON CONFLICT`, keyset pagination)
//! that both SQLite and PostgreSQL run unchanged, so one body is
//! instantiated per backend; where the dialects differ (DDL, locks,
//! connection setup) each backend has its own code.

macro_rules! impl_repositories {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl isms_domain::ports::TenantRepository for $store {
            async fn create(
                &self,
                t: &isms_domain::tenant::Tenant,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Server, c => {
                    crate::repos::insert_tenant!(&mut *c, t)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn get(
                &self,
                id: isms_domain::TenantId,
            ) -> Result<isms_domain::tenant::Tenant, isms_domain::ports::RepoError> {
                sqlx::query_as::<_, crate::rows::TenantRow>(
                    "SELECT id, name, status, created_at, updated_at, deleted_at FROM tenants \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id.as_uuid())
                .fetch_one(&self.pool)
                .await
                .map_err(crate::error::map)?
                .try_into()
            }

            async fn find_by_name(
                &self,
                name: &str,
            ) -> Result<Option<isms_domain::tenant::Tenant>, isms_domain::ports::RepoError> {
                let Ok(name) = isms_domain::tenant::TenantName::parse(name) else {
                    return Ok(None);
                };
                sqlx::query_as::<_, crate::rows::TenantRow>(
                    "SELECT id, name, status, created_at, updated_at, deleted_at FROM tenants \
                     WHERE name_key = $1 AND deleted_at IS NULL",
                )
                .bind(name.key())
                .fetch_optional(&self.pool)
                .await
                .map_err(crate::error::map)?
                .map(TryInto::try_into)
                .transpose()
            }

            async fn list(
                &self,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::tenant::Tenant>,
                isms_domain::ports::RepoError,
            > {
                let rows = sqlx::query_as::<_, crate::rows::TenantRow>(
                    "SELECT id, name, status, created_at, updated_at, deleted_at FROM tenants \
                     WHERE deleted_at IS NULL AND ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(page.after())
                .bind(page.fetch_limit())
                .fetch_all(&self.pool)
                .await
                .map_err(crate::error::map)?
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<Vec<isms_domain::tenant::Tenant>, _>>()?;
                Ok(isms_domain::page::Page::from_overfetch(rows, &page, |t| t.id.as_uuid()))
            }

            async fn soft_delete(
                &self,
                id: isms_domain::TenantId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(id), c => {
                    let done = sqlx::query(
                        "UPDATE tenants SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
                    )
                    .bind(id.as_uuid())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() == 0 {
                        return Err(isms_domain::ports::RepoError::NotFound);
                    }
                    for sql in [
                        "UPDATE users SET deleted_at = $2, updated_at = $2, is_active = FALSE \
                         WHERE tenant_id = $1 AND deleted_at IS NULL",
                        "UPDATE sessions SET revoked_at = $2 WHERE tenant_id = $1 AND revoked_at IS NULL",
                    ] {
                        sqlx::query(sql)
                            .bind(id.as_uuid())
                            .bind(at)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::UserRepository for $store {
            async fn create(
                &self,
                u: &isms_domain::user::User,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let sealed = crate::pii::seal_user(self.crypto.get()?.as_ref(), u).await?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(u.tenant_id), c => {
                    crate::repos::insert_user!(&mut *c, u, &sealed)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn get(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::UserId,
            ) -> Result<isms_domain::user::User, isms_domain::ports::RepoError> {
                let row = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::pii::SealedUserRow>(concat!(
                        "SELECT ",
                        crate::pii::sealed_user_columns!(),
                        " FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                row.open(self.crypto.get()?.as_ref()).await
            }

            async fn find_for_login(
                &self,
                email: &isms_domain::Email,
            ) -> Result<Option<isms_domain::user::LoginAccount>, isms_domain::ports::RepoError> {
                let crypto = self.crypto.get()?;
                let index = crate::pii::email_index(crypto.as_ref(), email).await?;
                let row = crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::pii::LoginRow>(concat!(
                        "SELECT ",
                        crate::pii::sealed_user_columns!(),
                        ", EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = users.id \
                         AND t.tenant_id = users.tenant_id AND t.confirmed_at IS NOT NULL) AS mfa_enrolled \
                         FROM users WHERE email_bidx = $1 AND deleted_at IS NULL"
                    ))
                    .bind(index)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                match row {
                    Some(r) => {
                        let user = r.user.open(crypto.as_ref()).await?;
                        // The index is a truncated MAC: confirm on the
                        // decrypted value rather than trust it alone.
                        Ok((user.email == *email).then_some(isms_domain::user::LoginAccount {
                            user,
                            mfa_enrolled: r.mfa_enrolled,
                        }))
                    }
                    None => Ok(None),
                }
            }

            async fn list(
                &self,
                tenant: isms_domain::TenantId,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::user::User>,
                isms_domain::ports::RepoError,
            > {
                let rows = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::pii::SealedUserRow>(concat!(
                        "SELECT ",
                        crate::pii::sealed_user_columns!(),
                        " FROM users WHERE tenant_id = $1 AND deleted_at IS NULL \
                          AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(page.after())
                    .bind(page.fetch_limit())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                let users = crate::pii::open_all(self.crypto.get()?.as_ref(), rows).await?;
                Ok(isms_domain::page::Page::from_overfetch(users, &page, |u| u.id.as_uuid()))
            }

            async fn update(
                &self,
                u: &isms_domain::user::User,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let sealed = crate::pii::seal_user(self.crypto.get()?.as_ref(), u).await?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(u.tenant_id), c => {
                    let done = sqlx::query(
                        "UPDATE users SET email_enc = $3, email_bidx = $4, email_key_version = $5, \
                         display_name_enc = $6, display_name_key_version = $7, role = $8, is_active = $9, \
                         password_hash = $10, password_changed_at = $11, password_must_change = $12, \
                         last_login_at = $13, last_access_review_at = $14, updated_at = $15 \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(u.tenant_id.as_uuid())
                    .bind(u.id.as_uuid())
                    .bind(&sealed.email_enc)
                    .bind(&sealed.email_bidx)
                    .bind(sealed.email_key_version)
                    .bind(&sealed.display_name_enc)
                    .bind(sealed.display_name_key_version)
                    .bind(u.role.as_str())
                    .bind(u.is_active)
                    .bind(u.password_hash.as_str())
                    .bind(u.password_changed_at)
                    .bind(u.password_must_change)
                    .bind(u.last_login_at)
                    .bind(u.last_access_review_at)
                    .bind(u.updated_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() == 0 {
                        return Err(isms_domain::ports::RepoError::NotFound);
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn soft_delete(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::UserId,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let now = isms_domain::time::now();
                    let done = sqlx::query(
                        "UPDATE users SET deleted_at = $3, updated_at = $3, is_active = $4 \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(now)
                    .bind(false)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() == 0 {
                        return Err(isms_domain::ports::RepoError::NotFound);
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::BootstrapRepository for $store {
            async fn is_bootstrapped(&self) -> Result<bool, isms_domain::ports::RepoError> {
                let found: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM server_state WHERE key = 'bootstrap'")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(crate::error::map)?;
                Ok(found.is_some())
            }

            async fn bootstrap(
                &self,
                tenant: &isms_domain::tenant::Tenant,
                admin: &isms_domain::user::User,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                let sealed = crate::pii::seal_user(self.crypto.get()?.as_ref(), admin).await?;
                let mut tx = self.tx(crate::scope::Scope::Server).await?;
                // The marker row's primary key decides the race between two
                // processes starting on one fresh database: the loser's
                // insert does nothing once the winner commits.
                let claimed = sqlx::query(
                    "INSERT INTO server_state (key, value, created_at) VALUES ('bootstrap', $1, $2) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(tenant.id.to_string())
                .bind(tenant.created_at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?
                .rows_affected()
                    == 1;
                if !claimed {
                    tx.rollback().await.map_err(crate::error::map)?;
                    return Ok(false);
                }
                crate::repos::insert_tenant!(&mut *tx, tenant)?;
                crate::repos::insert_user!(&mut *tx, admin, &sealed)?;
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)?;
                Ok(true)
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::StoreHealth for $store {
            async fn ping(&self) -> Result<(), isms_domain::ports::RepoError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(crate::error::map)?;
                Ok(())
            }

            fn pool_stats(&self) -> isms_domain::ports::PoolStats {
                isms_domain::ports::PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }
        }
    };
}

pub(crate) use impl_repositories;

macro_rules! insert_user {
    ($executor:expr, $u:expr, $sealed:expr) => {{
        let u: &isms_domain::user::User = $u;
        let sealed: &crate::pii::SealedUser = $sealed;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email_enc, email_bidx, email_key_version, display_name_enc, \
             display_name_key_version, role, is_active, password_hash, password_changed_at, \
             password_must_change, last_login_at, last_access_review_at, created_at, updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(u.id.as_uuid())
        .bind(u.tenant_id.as_uuid())
        .bind(&sealed.email_enc)
        .bind(&sealed.email_bidx)
        .bind(sealed.email_key_version)
        .bind(&sealed.display_name_enc)
        .bind(sealed.display_name_key_version)
        .bind(u.role.as_str())
        .bind(u.is_active)
        .bind(u.password_hash.as_str())
        .bind(u.password_changed_at)
        .bind(u.password_must_change)
        .bind(u.last_login_at)
        .bind(u.last_access_review_at)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(u.deleted_at)
        .execute($executor)
        .await
        .map(|_| ())
        .map_err(crate::error::map)
    }};
}

macro_rules! insert_tenant {
    ($executor:expr, $t:expr) => {{
        let t: &isms_domain::tenant::Tenant = $t;
        sqlx::query(
            "INSERT INTO tenants (id, name, name_key, status, created_at, updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.as_uuid())
        .bind(t.name.as_str())
        .bind(t.name.key())
        .bind(t.status.as_str())
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(t.deleted_at)
        .execute($executor)
        .await
        .map(|_| ())
        .map_err(crate::error::map)
    }};
}

pub(crate) use insert_tenant;
pub(crate) use insert_user;
