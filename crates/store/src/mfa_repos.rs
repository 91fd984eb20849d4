//! MFA (TOTP enrolments, recovery codes, login challenges) and tenant
//! policy repositories, instantiated for both backends like `repos.rs`.

macro_rules! impl_mfa_repositories {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl isms_domain::ports::MfaRepository for $store {
            async fn totp(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
            ) -> Result<Option<isms_domain::mfa::TotpEnrolment>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::mfa_rows::TotpRow>(
                        "SELECT user_id, tenant_id, secret_wrapped, created_at, confirmed_at, last_step \
                         FROM user_totp WHERE tenant_id = $1 AND user_id = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&mut *c)
                    .await
                    .map(|r| r.map(Into::into))
                    .map_err(crate::error::map)
                })
            }

            async fn put_pending_totp(
                &self,
                e: &isms_domain::mfa::TotpEnrolment,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Tenant(e.tenant_id)).await?;
                // The DELETE comes first so that it takes the write lock
                // before anything is read.
                sqlx::query("DELETE FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL")
                    .bind(e.user_id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::error::map)?;
                let inserted = sqlx::query(
                    "INSERT INTO user_totp (user_id, tenant_id, secret_wrapped, created_at, confirmed_at, last_step) \
                     VALUES ($1, $2, $3, $4, NULL, NULL) ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(e.user_id.as_uuid())
                .bind(e.tenant_id.as_uuid())
                .bind(e.secret_wrapped.as_slice())
                .bind(e.created_at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?
                .rows_affected();
                if inserted == 0 {
                    return Err(isms_domain::ports::RepoError::Conflict("mfa_enrolled"));
                }
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)
            }

            async fn confirm_totp(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                step: i64,
                recovery_hashes: &[[u8; 32]],
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Tenant(tenant)).await?;
                let confirmed = sqlx::query(
                    "UPDATE user_totp SET confirmed_at = $3, last_step = $4 WHERE tenant_id = $1 AND user_id = $2 \
                     AND confirmed_at IS NULL",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(at)
                .bind(step)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?
                .rows_affected()
                    == 1;
                if !confirmed {
                    tx.rollback().await.map_err(crate::error::map)?;
                    return Ok(false);
                }
                crate::mfa_repos::replace_recovery_codes!(&mut tx, tenant, user, recovery_hashes, at)?;
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)?;
                Ok(true)
            }

            async fn use_totp_step(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                step: i64,
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "UPDATE user_totp SET last_step = $3 WHERE tenant_id = $1 AND user_id = $2 \
                         AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $3)",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(step)
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected() == 1)
                    .map_err(crate::error::map)
                })
            }

            async fn delete_totp(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Tenant(tenant)).await?;
                for sql in [
                    "DELETE FROM user_totp WHERE tenant_id = $1 AND user_id = $2",
                    "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2",
                ] {
                    sqlx::query(sql)
                        .bind(tenant.as_uuid())
                        .bind(user.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(crate::error::map)?;
                }
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)
            }

            async fn use_recovery_code(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                hash: &[u8; 32],
                at: isms_domain::time::Timestamp,
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "UPDATE recovery_codes SET used_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
                         AND code_hash = $3 AND used_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(hash.as_slice())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected() == 1)
                    .map_err(crate::error::map)
                })
            }

            async fn recovery_codes_left(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
            ) -> Result<u32, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(u32::try_from(n).unwrap_or(0))
                })
            }

            async fn create_challenge(
                &self,
                ch: &isms_domain::mfa::MfaChallenge,
            ) -> Result<(), isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Tenant(ch.tenant_id)).await?;
                // Expired challenges are useless; sweep a user's own as new
                // ones are made so the table stays small.
                sqlx::query("DELETE FROM mfa_challenges WHERE tenant_id = $1 AND user_id = $2 AND expires_at < $3")
                    .bind(ch.tenant_id.as_uuid())
                    .bind(ch.user_id.as_uuid())
                    .bind(ch.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::error::map)?;
                sqlx::query(
                    "INSERT INTO mfa_challenges (token_hash, tenant_id, user_id, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5, NULL)",
                )
                .bind(ch.token_hash.as_slice())
                .bind(ch.tenant_id.as_uuid())
                .bind(ch.user_id.as_uuid())
                .bind(ch.created_at)
                .bind(ch.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                tx.commit().await.map_err(crate::error::map)
            }

            async fn find_challenge(
                &self,
                hash: &[u8; 32],
                now: isms_domain::time::Timestamp,
            ) -> Result<Option<isms_domain::mfa::MfaChallenge>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::mfa_rows::ChallengeRow>(
                        "SELECT token_hash, tenant_id, user_id, created_at, expires_at FROM mfa_challenges \
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                    )
                    .bind(hash.as_slice())
                    .bind(now)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .map(TryInto::try_into)
                    .transpose()
                })
            }

            async fn consume_challenge(
                &self,
                hash: &[u8; 32],
                at: isms_domain::time::Timestamp,
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query(
                        "UPDATE mfa_challenges SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
                         AND expires_at > $2",
                    )
                    .bind(hash.as_slice())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected() == 1)
                    .map_err(crate::error::map)
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::TenantPolicyRepository for $store {
            async fn access_policy(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Option<isms_domain::access_policy::AccessPolicy>, isms_domain::ports::RepoError>
            {
                let json: Option<String> = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_scalar("SELECT access_policy FROM tenant_policies WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(crate::error::map)
                })?;
                json.map(|j| {
                    serde_json::from_str(&j).map_err(|e| {
                        isms_domain::ports::RepoError::Internal(format!("stored access policy is invalid: {e}"))
                    })
                })
                .transpose()
            }

            async fn put_access_policy(
                &self,
                tenant: isms_domain::TenantId,
                policy: &isms_domain::access_policy::AccessPolicy,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let json = serde_json::to_string(policy)
                    .map_err(|e| isms_domain::ports::RepoError::Internal(e.to_string()))?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO tenant_policies (tenant_id, access_policy, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (tenant_id) DO UPDATE SET access_policy = excluded.access_policy, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(tenant.as_uuid())
                    .bind(json.as_str())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }
        }
    };
}

/// Replaces a user's recovery codes inside the caller's transaction.
macro_rules! replace_recovery_codes {
    ($tx:expr, $tenant:expr, $user:expr, $hashes:expr, $at:expr) => {{
        let tx = $tx;
        async {
            sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2")
                .bind($tenant.as_uuid())
                .bind($user.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(crate::error::map)?;
            for h in $hashes {
                sqlx::query(
                    "INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at, used_at) \
                     VALUES ($1, $2, $3, $4, NULL)",
                )
                .bind($tenant.as_uuid())
                .bind($user.as_uuid())
                .bind(h.as_slice())
                .bind($at)
                .execute(&mut **tx)
                .await
                .map_err(crate::error::map)?;
            }
            Ok::<(), isms_domain::ports::RepoError>(())
        }
        .await
    }};
}

pub(crate) use impl_mfa_repositories;
pub(crate) use replace_recovery_codes;
