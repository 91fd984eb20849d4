//! Key storage (data keys, subject keys, server keys) and the inventory
//! and rewrapping of encrypted fields, instantiated for both backends.

use chrono::{DateTime, Utc};
use isms_domain::crypto::{
    Classification, DataKeyMeta, DataKeyRecord, KeyRef, KeyState, SubjectId, SubjectKeyRecord,
};
use isms_domain::ports::RepoError;
use uuid::Uuid;

fn corrupt(what: &str) -> RepoError {
    RepoError::Internal(format!("stored {what} is invalid"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct DataKeyRow {
    tenant_id: Uuid,
    classification: String,
    version: i64,
    state: String,
    created_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    retired_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    usage_count: i64,
    max_usage: i64,
    wrapped_key: Vec<u8>,
}

/// Destroys a subject's key inside the caller's transaction `$c`, leaving
/// a tombstone even for a subject that never had a key, so none is issued
/// later. Evaluates to whether a live key was destroyed.
macro_rules! destroy_subject_key {
    ($c:ident, $tenant:expr, $subject:expr, $at:expr) => {{
        async {
            sqlx::query(
                "INSERT INTO subject_keys (tenant_id, subject_id, version, wrapped_key, created_at, \
                 destroyed_at) VALUES ($1, $2, 1, NULL, $3, $3) \
                 ON CONFLICT (tenant_id, subject_id) DO NOTHING",
            )
            .bind($tenant.as_uuid())
            .bind($subject)
            .bind($at)
            .execute(&mut *$c)
            .await
            .map_err(crate::error::map)?;
            let done = sqlx::query(
                "UPDATE subject_keys SET wrapped_key = NULL, destroyed_at = $3 \
                 WHERE tenant_id = $1 AND subject_id = $2 AND destroyed_at IS NULL",
            )
            .bind($tenant.as_uuid())
            .bind($subject)
            .bind($at)
            .execute(&mut *$c)
            .await
            .map_err(crate::error::map)?;
            Ok::<bool, isms_domain::ports::RepoError>(done.rows_affected() == 1)
        }
        .await
    }};
}
pub(crate) use destroy_subject_key;

macro_rules! data_key_columns {
    () => {
        "tenant_id, classification, CAST(version AS BIGINT) AS version, state, created_at, rotated_at, \
         retired_at, expires_at, CAST(usage_count AS BIGINT) AS usage_count, \
         CAST(max_usage AS BIGINT) AS max_usage, wrapped_key"
    };
}
pub(crate) use data_key_columns;

impl TryFrom<DataKeyRow> for DataKeyRecord {
    type Error = RepoError;
    fn try_from(r: DataKeyRow) -> Result<Self, RepoError> {
        let classification: Classification = r
            .classification
            .parse()
            .map_err(|_| corrupt("key classification"))?;
        let state: KeyState = r.state.parse().map_err(|_| corrupt("key state"))?;
        Ok(DataKeyRecord {
            meta: DataKeyMeta {
                key: KeyRef::new(
                    r.tenant_id.into(),
                    classification,
                    u32::try_from(r.version).map_err(|_| corrupt("key version"))?,
                ),
                state,
                created_at: r.created_at,
                rotated_at: r.rotated_at,
                retired_at: r.retired_at,
                expires_at: r.expires_at,
                usage_count: u64::try_from(r.usage_count).map_err(|_| corrupt("key usage"))?,
                max_usage: u64::try_from(r.max_usage).map_err(|_| corrupt("key usage cap"))?,
            },
            wrapped_key: r.wrapped_key,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubjectKeyRow {
    tenant_id: Uuid,
    subject_id: String,
    version: i64,
    wrapped_key: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    destroyed_at: Option<DateTime<Utc>>,
}

impl TryFrom<SubjectKeyRow> for isms_domain::crypto::SubjectKeyLookup {
    type Error = RepoError;
    fn try_from(r: SubjectKeyRow) -> Result<Self, RepoError> {
        if let Some(at) = r.destroyed_at {
            return Ok(Self::Destroyed { destroyed_at: at });
        }
        Ok(Self::Live(SubjectKeyRecord {
            tenant: r.tenant_id.into(),
            subject: SubjectId::new(r.subject_id).map_err(|_| corrupt("subject id"))?,
            version: u32::try_from(r.version).map_err(|_| corrupt("subject key version"))?,
            wrapped_key: r.wrapped_key.ok_or_else(|| corrupt("subject key"))?,
            created_at: r.created_at,
        }))
    }
}

pub(crate) fn i64_of(n: u64) -> Result<i64, RepoError> {
    i64::try_from(n).map_err(|_| RepoError::Internal("counter out of range".into()))
}

macro_rules! impl_crypto_repositories {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl isms_domain::crypto::DataKeyRepository for $store {
            async fn list_versions(
                &self,
                tenant: isms_domain::TenantId,
                classification: isms_domain::crypto::Classification,
            ) -> Result<Vec<isms_domain::crypto::DataKeyRecord>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::crypto_repos::DataKeyRow>(concat!(
                        "SELECT ",
                        crate::crypto_repos::data_key_columns!(),
                        " FROM data_keys WHERE tenant_id = $1 AND classification = $2 ORDER BY version"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(classification.as_str())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                })
            }

            async fn min_decryption_version(
                &self,
                tenant: isms_domain::TenantId,
                classification: isms_domain::crypto::Classification,
            ) -> Result<u32, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let v: Option<i64> = sqlx::query_scalar(
                        "SELECT CAST(min_decryption_version AS BIGINT) FROM key_rings \
                         WHERE tenant_id = $1 AND classification = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(classification.as_str())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(v.and_then(|v| u32::try_from(v).ok()).unwrap_or(1))
                })
            }

            async fn set_min_decryption_version(
                &self,
                tenant: isms_domain::TenantId,
                classification: isms_domain::crypto::Classification,
                version: u32,
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO key_rings (tenant_id, classification, min_decryption_version) \
                         VALUES ($1, $2, $3) ON CONFLICT (tenant_id, classification) \
                         DO UPDATE SET min_decryption_version = excluded.min_decryption_version",
                    )
                    .bind(tenant.as_uuid())
                    .bind(classification.as_str())
                    .bind(i64::from(version))
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(())
                })
            }

            async fn insert_version(
                &self,
                record: &isms_domain::crypto::DataKeyRecord,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let m = &record.meta;
                let tenant = m.key.tenant;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    if m.state == isms_domain::crypto::KeyState::Primary {
                        sqlx::query(
                            "UPDATE data_keys SET state = 'active', rotated_at = $3 \
                             WHERE tenant_id = $1 AND classification = $2 AND state = 'primary'",
                        )
                        .bind(tenant.as_uuid())
                        .bind(m.key.classification.as_str())
                        .bind(m.created_at)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    }
                    let inserted = sqlx::query(
                        "INSERT INTO data_keys (tenant_id, classification, version, state, created_at, \
                         rotated_at, retired_at, expires_at, usage_count, max_usage, wrapped_key) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (tenant_id, classification, version) DO NOTHING",
                    )
                    .bind(tenant.as_uuid())
                    .bind(m.key.classification.as_str())
                    .bind(i64::from(m.key.version))
                    .bind(m.state.as_str())
                    .bind(m.created_at)
                    .bind(m.rotated_at)
                    .bind(m.retired_at)
                    .bind(m.expires_at)
                    .bind(crate::crypto_repos::i64_of(m.usage_count)?)
                    .bind(crate::crypto_repos::i64_of(m.max_usage)?)
                    .bind(&record.wrapped_key)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .rows_affected();
                    if inserted == 0 {
                        return Err(isms_domain::ports::RepoError::Conflict("data_key_version"));
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn set_state(
                &self,
                key: &isms_domain::crypto::KeyRef,
                state: isms_domain::crypto::KeyState,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let sql = match state {
                    isms_domain::crypto::KeyState::Primary => {
                        "UPDATE data_keys SET state = 'primary' \
                         WHERE tenant_id = $1 AND classification = $2 AND version = $3 AND $4 IS NOT NULL"
                    }
                    isms_domain::crypto::KeyState::Active => {
                        "UPDATE data_keys SET state = 'active', rotated_at = $4 \
                         WHERE tenant_id = $1 AND classification = $2 AND version = $3"
                    }
                    isms_domain::crypto::KeyState::Retired => {
                        "UPDATE data_keys SET state = 'retired', retired_at = $4 \
                         WHERE tenant_id = $1 AND classification = $2 AND version = $3"
                    }
                };
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(key.tenant), c => {
                    let done = sqlx::query(sql)
                        .bind(key.tenant.as_uuid())
                        .bind(key.classification.as_str())
                        .bind(i64::from(key.version))
                        .bind(at)
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

            async fn increment_usage(
                &self,
                key: &isms_domain::crypto::KeyRef,
                by: u64,
            ) -> Result<u64, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(key.tenant), c => {
                    let n: Option<i64> = sqlx::query_scalar(
                        "UPDATE data_keys SET usage_count = usage_count + $4 \
                         WHERE tenant_id = $1 AND classification = $2 AND version = $3 \
                         RETURNING CAST(usage_count AS BIGINT)",
                    )
                    .bind(key.tenant.as_uuid())
                    .bind(key.classification.as_str())
                    .bind(i64::from(key.version))
                    .bind(crate::crypto_repos::i64_of(by)?)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    let n = n.ok_or(isms_domain::ports::RepoError::NotFound)?;
                    u64::try_from(n).map_err(|_| isms_domain::ports::RepoError::Internal("usage count".into()))
                })
            }

            async fn list_all(
                &self,
            ) -> Result<Vec<isms_domain::crypto::DataKeyRecord>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::crypto_repos::DataKeyRow>(concat!(
                        "SELECT ",
                        crate::crypto_repos::data_key_columns!(),
                        " FROM data_keys ORDER BY tenant_id, classification, version"
                    ))
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                })
            }

            async fn rewrap_all(
                &self,
                rewrapped: &[(isms_domain::crypto::KeyRef, Vec<u8>)],
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Server, c => {
                    for (key, wrapped) in rewrapped {
                        let done = sqlx::query(
                            "UPDATE data_keys SET wrapped_key = $4 \
                             WHERE tenant_id = $1 AND classification = $2 AND version = $3",
                        )
                        .bind(key.tenant.as_uuid())
                        .bind(key.classification.as_str())
                        .bind(i64::from(key.version))
                        .bind(wrapped)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        if done.rows_affected() != 1 {
                            return Err(isms_domain::ports::RepoError::NotFound);
                        }
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn delete_tenant(
                &self,
                tenant: isms_domain::TenantId,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<u64, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let mut n = None;
                    for sql in [
                        "DELETE FROM data_keys WHERE tenant_id = $1",
                        "DELETE FROM key_rings WHERE tenant_id = $1",
                        "UPDATE subject_keys SET wrapped_key = NULL, destroyed_at = created_at \
                         WHERE tenant_id = $1 AND destroyed_at IS NULL",
                    ] {
                        let done = sqlx::query(sql)
                            .bind(tenant.as_uuid())
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        // The data-key count is what the caller reports.
                        n.get_or_insert(done.rows_affected());
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(n.unwrap_or(0))
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::crypto::SubjectKeyRepository for $store {
            async fn get(
                &self,
                tenant: isms_domain::TenantId,
                subject: &isms_domain::crypto::SubjectId,
            ) -> Result<Option<isms_domain::crypto::SubjectKeyLookup>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::crypto_repos::SubjectKeyRow>(
                        "SELECT tenant_id, subject_id, CAST(version AS BIGINT) AS version, wrapped_key, \
                         created_at, destroyed_at FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(subject.as_str())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .map(TryInto::try_into)
                    .transpose()
                })
            }

            async fn get_or_create(
                &self,
                candidate: &isms_domain::crypto::SubjectKeyRecord,
            ) -> Result<isms_domain::crypto::SubjectKeyLookup, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(candidate.tenant), c => {
                    sqlx::query(
                        "INSERT INTO subject_keys (tenant_id, subject_id, version, wrapped_key, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, subject_id) DO NOTHING",
                    )
                    .bind(candidate.tenant.as_uuid())
                    .bind(candidate.subject.as_str())
                    .bind(i64::from(candidate.version))
                    .bind(&candidate.wrapped_key)
                    .bind(candidate.created_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    sqlx::query_as::<_, crate::crypto_repos::SubjectKeyRow>(
                        "SELECT tenant_id, subject_id, CAST(version AS BIGINT) AS version, wrapped_key, \
                         created_at, destroyed_at FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2",
                    )
                    .bind(candidate.tenant.as_uuid())
                    .bind(candidate.subject.as_str())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn destroy(
                &self,
                tenant: isms_domain::TenantId,
                subject: &isms_domain::crypto::SubjectId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let destroyed =
                        crate::crypto_repos::destroy_subject_key!(c, tenant, subject.as_str(), at)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(destroyed)
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::crypto::ServerKeyRepository for $store {
            async fn get_or_create(
                &self,
                name: &str,
                candidate: &[u8],
            ) -> Result<Vec<u8>, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Server, c => {
                    sqlx::query(
                        "INSERT INTO server_keys (name, wrapped_key, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name)
                    .bind(candidate)
                    .bind(isms_domain::time::now())
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    sqlx::query_scalar("SELECT wrapped_key FROM server_keys WHERE name = $1")
                        .bind(name)
                        .fetch_one(&mut *c)
                        .await
                        .map_err(crate::error::map)
                })
            }

            async fn replace(&self, name: &str, wrapped: &[u8]) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Server, c => {
                    sqlx::query("UPDATE server_keys SET wrapped_key = $2 WHERE name = $1")
                        .bind(name)
                        .bind(wrapped)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    Ok(())
                })
            }

            async fn list(&self) -> Result<Vec<(String, Vec<u8>)>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as("SELECT name, wrapped_key FROM server_keys ORDER BY name")
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::crypto::EncryptedFields for $store {
            async fn inventory(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::crypto::FieldInventory>, isms_domain::ports::RepoError> {
                let mut out = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let mut out = Vec::new();
                    for (column, enc, ver) in [
                        ("email", "email_enc", "email_key_version"),
                        ("display_name", "display_name_enc", "display_name_key_version"),
                    ] {
                        let plain: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                            "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND {enc} IS NULL"
                        )))
                        .bind(tenant.as_uuid())
                        .fetch_one(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        let versions: Vec<(Option<i64>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT CAST({ver} AS BIGINT), COUNT(*) FROM users WHERE tenant_id = $1 \
                             AND {enc} IS NOT NULL GROUP BY {ver} ORDER BY 1"
                        )))
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        out.push(isms_domain::crypto::FieldInventory {
                            table: "users".into(),
                            column: column.into(),
                            classification: crate::pii::USER_PII,
                            plaintext: u64::try_from(plain).unwrap_or(0),
                            by_version: versions
                                .into_iter()
                                .map(|(v, n)| {
                                    (
                                        v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
                                        u64::try_from(n).unwrap_or(0),
                                    )
                                })
                                .collect(),
                        });
                    }
                    Ok(out)
                })?;
                out.extend(self.asset_description_inventory(tenant).await?);
                out.extend(self.export_inventory(tenant).await?);
                Ok(out)
            }

            async fn rewrap(
                &self,
                tenant: isms_domain::TenantId,
                classification: isms_domain::crypto::Classification,
                limit: u32,
            ) -> Result<u32, isms_domain::ports::RepoError> {
                let assets = self
                    .rewrap_asset_descriptions(tenant, classification, limit)
                    .await?;
                if classification != crate::pii::USER_PII || assets >= limit {
                    return Ok(assets);
                }
                let limit = limit - assets;
                let crypto = self.crypto.get()?.clone();
                let primary = crypto
                    .primary_version(tenant, classification)
                    .await
                    .map_err(crate::pii::crypto_error)?;
                let rows = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::pii::SealedUserRow>(concat!(
                        "SELECT ",
                        crate::pii::sealed_user_columns!(),
                        " FROM users WHERE tenant_id = $1 AND (email_key_version < $2 \
                          OR display_name_key_version < $2) ORDER BY id LIMIT $3"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(i64::from(primary))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                let users = crate::pii::open_all(crypto.as_ref(), rows).await?;
                // Sealed before the write transaction (see pii_conversion).
                let mut sealed = Vec::with_capacity(users.len());
                for u in &users {
                    sealed.push((u.id, crate::pii::seal_user(crypto.as_ref(), u).await?));
                }
                let mut done = assets;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    for (id, s) in &sealed {
                        sqlx::query(
                            "UPDATE users SET email_enc = $3, email_key_version = $4, \
                             display_name_enc = $5, display_name_key_version = $6 \
                             WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .bind(&s.email_enc)
                        .bind(s.email_key_version)
                        .bind(&s.display_name_enc)
                        .bind(s.display_name_key_version)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        done += 1;
                    }
                    Ok(())
                })?;
                Ok(done)
            }
        }
    };
}

pub(crate) use impl_crypto_repositories;
