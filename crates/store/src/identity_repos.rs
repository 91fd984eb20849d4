//! Session, refresh-token and signing-key repositories, instantiated for
//! both backends like `repos.rs` (the statements are portable SQL).

macro_rules! session_columns {
    () => {
        "s.id, s.tenant_id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, \
         s.revoked_at, s.mfa_verified_at"
    };
}

macro_rules! impl_identity_repositories {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl isms_domain::ports::SessionRepository for $store {
            async fn create(
                &self,
                s: &isms_domain::session::Session,
                first: &isms_domain::auth::RefreshTokenRecord,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                // SQLite: two round trips in all (see `sqlite_session.rs`).
                if let Some(sqlite) = self.as_sqlite() {
                    return crate::sqlite_session::create(sqlite, s, first, audit).await;
                }
                let mut tx = self.tx(crate::scope::Scope::Tenant(s.tenant_id)).await?;
                // The session and the login stamp in one statement (see
                // `chain.rs`). The stamp sets only its column: a whole-row
                // write of the copy read before hashing would undo a role
                // change or deactivation committed meanwhile. A user
                // deleted meanwhile gets no session.
                let chain = Self::CHAIN;
                let mut q = sqlx::QueryBuilder::new("");
                chain.push(&mut q, 0, 2, |q| crate::identity_repos::push_session!(q, s));
                chain.push(&mut q, 1, 2, |q| crate::identity_repos::push_login_stamp!(q, s));
                let done = q.build().execute(&mut *tx).await.map_err(crate::error::map)?;
                if chain.last_rows(done.rows_affected(), 1) == 0 {
                    return Err(isms_domain::ports::RepoError::NotFound);
                }
                // PostgreSQL checks the token's row-level security policy
                // against the sessions its statement started with: the
                // token needs a statement of its own, after the session's.
                crate::identity_repos::insert_refresh!(&mut *tx, first)?;
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)
            }

            async fn get(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::SessionId,
            ) -> Result<isms_domain::session::Session, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::identity_rows::SessionRow>(concat!(
                        "SELECT ",
                        crate::identity_repos::session_columns!(),
                        " FROM sessions s WHERE s.tenant_id = $1 AND s.id = $2"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map(Into::into)
                    .map_err(crate::error::map)
                })
            }

            async fn list_live(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                now: isms_domain::time::Timestamp,
            ) -> Result<Vec<isms_domain::session::Session>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let rows = sqlx::query_as::<_, crate::identity_rows::SessionRow>(concat!(
                        "SELECT ",
                        crate::identity_repos::session_columns!(),
                        " FROM sessions s WHERE s.tenant_id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL \
                          AND s.expires_at > $3 ORDER BY s.created_at DESC, s.id DESC LIMIT 100"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(now)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(rows.into_iter().map(Into::into).collect())
                })
            }

            async fn touch(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::SessionId,
                at: isms_domain::time::Timestamp,
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
                        .bind(id.as_uuid())
                        .bind(at)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    Ok(())
                })
            }

            async fn revoke(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::SessionId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let done = sqlx::query(
                        "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(true)
                })
            }

            async fn revoke_all_for_user(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                keep: Option<isms_domain::SessionId>,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<Vec<isms_domain::SessionId>, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
                        "UPDATE sessions SET revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
                         AND revoked_at IS NULL AND expires_at > $4 AND ($3 IS NULL OR id <> $3) RETURNING id",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(keep.map(|k| k.as_uuid()))
                    .bind(at)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(ids.into_iter().map(Into::into).collect())
                })
            }

            async fn find_refresh(
                &self,
                token_hash: &[u8; 32],
            ) -> Result<
                Option<(isms_domain::auth::RefreshTokenRecord, isms_domain::session::Session)>,
                isms_domain::ports::RepoError,
            > {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::identity_rows::RefreshWithSessionRow>(concat!(
                        "SELECT rt.id AS rt_id, rt.token_hash AS rt_token_hash, rt.created_at AS rt_created_at, \
                         rt.expires_at AS rt_expires_at, rt.rotated_at AS rt_rotated_at, ",
                        crate::identity_repos::session_columns!(),
                        " FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1"
                    ))
                    .bind(token_hash.as_slice())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .map(TryInto::try_into)
                    .transpose()
                })
            }

            async fn rotate_refresh(
                &self,
                presented: &[u8; 32],
                successor: &isms_domain::auth::RefreshTokenRecord,
                now: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<isms_domain::ports::RotateOutcome, isms_domain::ports::RepoError> {
                // The conditional UPDATE is the first statement of the
                // transaction, so it takes the write lock at once (SQLite)
                // or the row lock (PostgreSQL): of two concurrent callers
                // exactly one sees a live token.
                let mut tx = self.tx(crate::scope::Scope::Server).await?;
                let claimed = sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL \
                     AND expires_at > $2 AND session_id IN \
                     (SELECT id FROM sessions WHERE revoked_at IS NULL AND expires_at > $2)",
                )
                .bind(presented.as_slice())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?
                .rows_affected()
                    == 1;
                if claimed {
                    crate::identity_repos::insert_refresh!(&mut *tx, successor)?;
                    crate::audit_append::append_audit!(tx, audit)?;
                    tx.commit().await.map_err(crate::error::map)?;
                    return Ok(isms_domain::ports::RotateOutcome::Rotated);
                }
                tx.rollback().await.map_err(crate::error::map)?;
                // Not live: if it was rotated before, this is reuse and the
                // whole family (the session) is revoked.
                let revoked = crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $2 WHERE revoked_at IS NULL AND id IN \
                         (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND rotated_at IS NOT NULL)",
                    )
                    .bind(presented.as_slice())
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(crate::error::map)
                })?;
                Ok(if revoked > 0 {
                    isms_domain::ports::RotateOutcome::Reused
                } else {
                    isms_domain::ports::RotateOutcome::Invalid
                })
            }

            async fn mark_mfa_verified(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::SessionId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let done = sqlx::query(
                        "UPDATE sessions SET mfa_verified_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() != 1 {
                        return Err(isms_domain::ports::RepoError::NotFound);
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::SigningKeyRepository for $store {
            async fn insert(
                &self,
                k: &isms_domain::auth::SigningKeyRecord,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Server).await?;
                sqlx::query(
                    "INSERT INTO signing_keys (kid, public_key, wrapped_private_key, created_at, retired_at, \
                     verify_until) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(k.kid.as_str())
                .bind(k.public_key.as_slice())
                .bind(k.wrapped_private_key.as_slice())
                .bind(k.created_at)
                .bind(k.retired_at)
                .bind(k.verify_until)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)
            }

            async fn list_verifying(
                &self,
                now: isms_domain::time::Timestamp,
            ) -> Result<Vec<isms_domain::auth::SigningKeyRecord>, isms_domain::ports::RepoError> {
                let rows = sqlx::query_as::<_, crate::identity_rows::SigningKeyRow>(
                    "SELECT kid, public_key, wrapped_private_key, created_at, retired_at, verify_until \
                     FROM signing_keys WHERE verify_until IS NULL OR verify_until > $1 \
                     ORDER BY created_at DESC, kid DESC",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(crate::error::map)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn retire_others(
                &self,
                keep: &str,
                at: isms_domain::time::Timestamp,
                verify_until: isms_domain::time::Timestamp,
            ) -> Result<(), isms_domain::ports::RepoError> {
                sqlx::query(
                    "UPDATE signing_keys SET retired_at = $2, verify_until = $3 \
                     WHERE kid <> $1 AND retired_at IS NULL",
                )
                .bind(keep)
                .bind(at)
                .bind(verify_until)
                .execute(&self.pool)
                .await
                .map_err(crate::error::map)?;
                Ok(())
            }
        }
    };
}

/// `INSERT INTO sessions ...` of one session, into a query builder.
macro_rules! push_session {
    ($q:expr, $s:expr) => {{
        let s: &isms_domain::session::Session = $s;
        $q.push(
            "INSERT INTO sessions (id, tenant_id, user_id, created_at, last_seen_at, expires_at, \
             ip, user_agent, revoked_at, mfa_verified_at) ",
        );
        $q.push_values([s], |mut b, s| {
            b.push_bind(s.id.as_uuid())
                .push_bind(s.tenant_id.as_uuid())
                .push_bind(s.user_id.as_uuid())
                .push_bind(s.created_at)
                .push_bind(s.last_seen_at)
                .push_bind(s.expires_at)
                .push_bind(s.ip.clone())
                .push_bind(s.user_agent.clone())
                .push_bind(s.revoked_at)
                .push_bind(s.mfa_verified_at);
        });
    }};
}

/// The login stamp of session `s`'s user, unless the user is deleted.
macro_rules! push_login_stamp {
    ($q:expr, $s:expr) => {{
        let s: &isms_domain::session::Session = $s;
        $q.push("UPDATE users SET last_login_at = ")
            .push_bind(s.created_at)
            .push(" WHERE tenant_id = ")
            .push_bind(s.tenant_id.as_uuid())
            .push(" AND id = ")
            .push_bind(s.user_id.as_uuid())
            .push(" AND deleted_at IS NULL");
    }};
}

/// `INSERT INTO refresh_tokens ...` of one record, into a query builder.
macro_rules! push_refresh {
    ($q:expr, $r:expr) => {{
        let r: &isms_domain::auth::RefreshTokenRecord = $r;
        $q.push(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at, rotated_at) ",
        );
        $q.push_values([r], |mut b, r| {
            b.push_bind(r.id)
                .push_bind(r.session_id.as_uuid())
                .push_bind(r.token_hash.to_vec())
                .push_bind(r.created_at)
                .push_bind(r.expires_at)
                .push_bind(r.rotated_at);
        });
    }};
}

macro_rules! insert_refresh {
    ($executor:expr, $r:expr) => {{
        let mut q = sqlx::QueryBuilder::new("");
        crate::identity_repos::push_refresh!(q, $r);
        q.build()
            .execute($executor)
            .await
            .map(|_| ())
            .map_err(crate::error::map)
    }};
}

pub(crate) use impl_identity_repositories;
pub(crate) use insert_refresh;
pub(crate) use push_login_stamp;
pub(crate) use push_refresh;
pub(crate) use push_session;
pub(crate) use session_columns;
