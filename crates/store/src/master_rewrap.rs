//! Master-key rotation: every key wrapped under the master key (data keys,
//! subject keys, server keys, token-signing keys, the audit log key, TOTP
//! secrets) is unwrapped with the old key and wrapped with the new one in
//! one transaction, so the switch is all or nothing. No data is touched:
//! envelopes stay as they are, sealed by the same data keys.

use isms_domain::ports::KeyWrapper;

/// How many wrapped keys of each kind were rewrapped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RewrapCounts {
    pub data_keys: u64,
    pub subject_keys: u64,
    pub server_keys: u64,
    pub signing_keys: u64,
    pub audit_log_keys: u64,
    pub totp_secrets: u64,
}

/// What the rewrap needs besides the two keys: the associated data of
/// server keys (defined by infrastructure) and the audit record.
pub struct MasterRewrap<'a> {
    pub old: &'a dyn KeyWrapper,
    pub new: &'a dyn KeyWrapper,
    pub server_key_aad: &'a (dyn Fn(&str) -> Vec<u8> + Sync),
    pub audit: &'a [isms_domain::audit::AuditRecord],
}

pub(crate) fn rewrap(
    req: &MasterRewrap<'_>,
    wrapped: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, isms_domain::ports::RepoError> {
    let plain = req.old.unwrap(wrapped, aad).map_err(|_| {
        isms_domain::ports::RepoError::Internal(
            "a stored key does not unwrap with the current master key".into(),
        )
    })?;
    req.new
        .wrap(&plain, aad)
        .map_err(|e| isms_domain::ports::RepoError::Internal(e.to_string()))
}

macro_rules! impl_master_rewrap {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn rewrap_master(
                &self,
                req: &crate::master_rewrap::MasterRewrap<'_>,
            ) -> Result<crate::master_rewrap::RewrapCounts, isms_domain::ports::RepoError> {
                use crate::master_rewrap::rewrap;
                let mut counts = crate::master_rewrap::RewrapCounts::default();
                crate::scope::scoped_tx!(self, crate::scope::Scope::Server, c => {
                    let rows: Vec<(uuid::Uuid, String, i64, Vec<u8>)> = sqlx::query_as(
                        "SELECT tenant_id, classification, CAST(version AS BIGINT), wrapped_key FROM data_keys",
                    )
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    for (tenant, class, version, wrapped) in rows {
                        let key = isms_domain::crypto::KeyRef::new(
                            tenant.into(),
                            class.parse().map_err(|_| crate::audit_rows::corrupt("key classification"))?,
                            u32::try_from(version).map_err(|_| crate::audit_rows::corrupt("key version"))?,
                        );
                        let new = rewrap(req, &wrapped, &isms_domain::crypto::dek_wrap_aad(&key))?;
                        sqlx::query(
                            "UPDATE data_keys SET wrapped_key = $4 WHERE tenant_id = $1 AND classification = $2 AND version = $3",
                        )
                        .bind(tenant)
                        .bind(&class)
                        .bind(version)
                        .bind(new)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        counts.data_keys += 1;
                    }
                    let rows: Vec<(uuid::Uuid, String, i64, Vec<u8>)> = sqlx::query_as(
                        "SELECT tenant_id, subject_id, CAST(version AS BIGINT), wrapped_key FROM subject_keys \
                         WHERE wrapped_key IS NOT NULL",
                    )
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    for (tenant, subject, version, wrapped) in rows {
                        let sid = isms_domain::crypto::SubjectId::new(subject.clone())
                            .map_err(|_| crate::audit_rows::corrupt("subject id"))?;
                        let aad = isms_domain::crypto::subject_key_wrap_aad(
                            tenant.into(),
                            &sid,
                            u32::try_from(version).map_err(|_| crate::audit_rows::corrupt("subject key version"))?,
                        );
                        let new = rewrap(req, &wrapped, &aad)?;
                        sqlx::query("UPDATE subject_keys SET wrapped_key = $3 WHERE tenant_id = $1 AND subject_id = $2")
                            .bind(tenant)
                            .bind(&subject)
                            .bind(new)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        counts.subject_keys += 1;
                    }
                    let rows: Vec<(String, Vec<u8>)> =
                        sqlx::query_as("SELECT name, wrapped_key FROM server_keys")
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                    for (name, wrapped) in rows {
                        let new = rewrap(req, &wrapped, &(req.server_key_aad)(&name))?;
                        sqlx::query("UPDATE server_keys SET wrapped_key = $2 WHERE name = $1")
                            .bind(&name)
                            .bind(new)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        counts.server_keys += 1;
                    }
                    let rows: Vec<(String, Vec<u8>)> =
                        sqlx::query_as("SELECT kid, wrapped_private_key FROM signing_keys")
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                    for (kid, wrapped) in rows {
                        let new = rewrap(req, &wrapped, &isms_domain::auth::signing_key_aad(&kid))?;
                        sqlx::query("UPDATE signing_keys SET wrapped_private_key = $2 WHERE kid = $1")
                            .bind(&kid)
                            .bind(new)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        counts.signing_keys += 1;
                    }
                    let rows: Vec<(String, Vec<u8>)> =
                        sqlx::query_as("SELECT key_id, wrapped_private_key FROM audit_log_keys")
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                    for (id, wrapped) in rows {
                        let new = rewrap(req, &wrapped, &isms_domain::audit::log_key_wrap_aad(&id))?;
                        sqlx::query("UPDATE audit_log_keys SET wrapped_private_key = $2 WHERE key_id = $1")
                            .bind(&id)
                            .bind(new)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        counts.audit_log_keys += 1;
                    }
                    let rows: Vec<(uuid::Uuid, uuid::Uuid, Vec<u8>)> =
                        sqlx::query_as("SELECT tenant_id, user_id, secret_wrapped FROM user_totp")
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                    for (tenant, user, wrapped) in rows {
                        let aad = isms_domain::mfa::totp_secret_aad(tenant.into(), user.into());
                        let new = rewrap(req, &wrapped, &aad)?;
                        sqlx::query("UPDATE user_totp SET secret_wrapped = $2 WHERE user_id = $1")
                            .bind(user)
                            .bind(new)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        counts.totp_secrets += 1;
                    }
                    crate::audit_append::append_audit!(c, req.audit)?;
                    Ok(())
                })?;
                Ok(counts)
            }
        }
    };
}

pub(crate) use impl_master_rewrap;
