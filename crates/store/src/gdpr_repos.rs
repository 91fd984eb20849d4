//! GDPR retention policies, data-subject requests and their exports,
//! subject records and account erasure, instantiated for both backends.

/// The place an export is sealed at (bound into its AAD).
pub(crate) fn export_place(row: &str) -> isms_domain::crypto::FieldPlace<'_> {
    isms_domain::crypto::FieldPlace {
        table: "gdpr_exports",
        column: "payload",
        row_id: row,
    }
}

/// Exports are personal data in bulk: sealed under the restricted key.
pub(crate) const EXPORT_CLASSIFICATION: isms_domain::crypto::Classification =
    isms_domain::crypto::Classification::Restricted;

macro_rules! impl_gdpr_repository {
    ($store:ty) => {
        impl $store {
            /// Sealed exports by key version, for the encrypted-field
            /// inventory.
            pub(crate) async fn export_inventory(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::crypto::FieldInventory>, isms_domain::ports::RepoError> {
                let rows: Vec<(i64, i64)> =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_as(
                            "SELECT CAST(key_version AS BIGINT), COUNT(*) FROM gdpr_exports \
                             WHERE tenant_id = $1 AND payload_enc IS NOT NULL GROUP BY 1 ORDER BY 1",
                        )
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)
                    })?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![isms_domain::crypto::FieldInventory {
                    table: "gdpr_exports".into(),
                    column: "payload".into(),
                    classification: crate::gdpr_repos::EXPORT_CLASSIFICATION,
                    plaintext: 0,
                    by_version: rows
                        .into_iter()
                        .map(|(v, n)| (u32::try_from(v).unwrap_or(0), u64::try_from(n).unwrap_or(0)))
                        .collect(),
                }])
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::compliance::GdprRepository for $store {
            async fn retention_policies(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::compliance::RetentionPolicy>, isms_domain::ports::RepoError>
            {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::gdpr_rows::PolicyRow>(
                        "SELECT category, CAST(days AS BIGINT) AS days, enforce FROM gdpr_retention_policies \
                         WHERE tenant_id = $1 ORDER BY category",
                    )
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                })
            }

            async fn put_retention_policy(
                &self,
                tenant: isms_domain::TenantId,
                policy: isms_domain::compliance::RetentionPolicy,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO gdpr_retention_policies (tenant_id, category, days, enforce, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, category) DO UPDATE \
                         SET days = excluded.days, enforce = excluded.enforce, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(tenant.as_uuid())
                    .bind(policy.category.as_str())
                    .bind(i64::from(policy.days))
                    .bind(policy.enforce)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn delete_retention_policy(
                &self,
                tenant: isms_domain::TenantId,
                category: isms_domain::compliance::RetentionCategory,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let done = sqlx::query(
                        "DELETE FROM gdpr_retention_policies WHERE tenant_id = $1 AND category = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(category.as_str())
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

            async fn past_retention(
                &self,
                tenant: isms_domain::TenantId,
                category: isms_domain::compliance::RetentionCategory,
                cutoff: isms_domain::time::Timestamp,
            ) -> Result<(u64, Option<isms_domain::time::Timestamp>), isms_domain::ports::RepoError>
            {
                let (table, clock, filter) = crate::gdpr_rows::clock_of(category);
                let sql = format!(
                    "SELECT COUNT(*), MIN({clock}) FROM {table} \
                     WHERE tenant_id = $1 AND {clock} < $2 AND {filter}"
                );
                let (n, oldest): (i64, Option<chrono::DateTime<chrono::Utc>>) =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_as(sqlx::AssertSqlSafe(sql))
                            .bind(tenant.as_uuid())
                            .bind(cutoff)
                            .fetch_one(&mut *c)
                            .await
                            .map_err(crate::error::map)
                    })?;
                Ok((u64::try_from(n).unwrap_or(0), oldest))
            }

            async fn past_retention_ids(
                &self,
                tenant: isms_domain::TenantId,
                category: isms_domain::compliance::RetentionCategory,
                cutoff: isms_domain::time::Timestamp,
                limit: u32,
            ) -> Result<Vec<uuid::Uuid>, isms_domain::ports::RepoError> {
                let (table, clock, filter) = crate::gdpr_rows::clock_of(category);
                let sql = format!(
                    "SELECT id FROM {table} WHERE tenant_id = $1 AND {clock} < $2 AND {filter} \
                     ORDER BY {clock}, id LIMIT $3"
                );
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_uuid())
                        .bind(cutoff)
                        .bind(i64::from(limit))
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)
                })
            }

            async fn delete_past_retention(
                &self,
                tenant: isms_domain::TenantId,
                category: isms_domain::compliance::RetentionCategory,
                cutoff: isms_domain::time::Timestamp,
                ids: &[uuid::Uuid],
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<u64, isms_domain::ports::RepoError> {
                use isms_domain::compliance::RetentionCategory as R;
                let (table, clock, filter) = crate::gdpr_rows::clock_of(category);
                // Rows that depend on the record go first.
                let dependent = match category {
                    R::Sessions => Some("DELETE FROM refresh_tokens WHERE session_id = $2"),
                    R::ClosedRequests => {
                        Some("DELETE FROM gdpr_exports WHERE tenant_id = $1 AND request_id = $2")
                    }
                    R::WithdrawnConsents => None,
                    R::DeletedAccounts => {
                        return Err(isms_domain::ports::RepoError::Internal(
                            "accounts are erased, not deleted".into(),
                        ));
                    }
                };
                let delete = format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND id = $2 AND {clock} < $3 AND {filter}"
                );
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let mut erased = 0u64;
                    for id in ids {
                        if let Some(sql) = dependent {
                            sqlx::query(sql)
                                .bind(tenant.as_uuid())
                                .bind(id)
                                .execute(&mut *c)
                                .await
                                .map_err(crate::error::map)?;
                        }
                        erased += sqlx::query(sqlx::AssertSqlSafe(delete.clone()))
                            .bind(tenant.as_uuid())
                            .bind(id)
                            .bind(cutoff)
                            .execute(&mut *c)
                            .await
                            .map_err(crate::error::map)?
                            .rows_affected();
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(erased)
                })
            }

            async fn erase_account(
                &self,
                tenant: isms_domain::TenantId,
                user: isms_domain::UserId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                let sealed =
                    crate::pii::seal_erased(self.crypto.get()?.as_ref(), tenant, user).await?;
                let subject = isms_domain::crypto::SubjectId::user(user);
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let done = sqlx::query(
                        "UPDATE users SET email_enc = $3, email_bidx = $4, email_key_version = $5, \
                         display_name_enc = $6, display_name_key_version = $7, erased_at = $8, \
                         updated_at = $8 WHERE tenant_id = $1 AND id = $2 AND erased_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(&sealed.email_enc)
                    .bind(&sealed.email_bidx)
                    .bind(sealed.email_key_version)
                    .bind(&sealed.display_name_enc)
                    .bind(sealed.display_name_key_version)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() == 0 {
                        let exists: Option<uuid::Uuid> = sqlx::query_scalar(
                            "SELECT id FROM users WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_uuid())
                        .bind(user.as_uuid())
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        return match exists {
                            Some(_) => Ok(false),
                            None => Err(isms_domain::ports::RepoError::NotFound),
                        };
                    }
                    sqlx::query(
                        "UPDATE sessions SET ip = NULL, user_agent = NULL \
                         WHERE tenant_id = $1 AND user_id = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    sqlx::query(
                        "UPDATE gdpr_exports SET payload_enc = NULL WHERE tenant_id = $1 AND request_id IN \
                         (SELECT id FROM gdpr_requests WHERE tenant_id = $1 \
                          AND subject_type = 'user' AND subject_id = $2)",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.to_string())
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::crypto_repos::destroy_subject_key!(c, tenant, subject.as_str(), at)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(true)
                })
            }

            async fn insert_request(
                &self,
                r: &isms_domain::compliance::DataSubjectRequest,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let (subject_type, subject_id) = crate::compliance_rows::subject_columns(&r.subject);
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(r.tenant_id), c => {
                    sqlx::query(
                        "INSERT INTO gdpr_requests (id, tenant_id, subject_type, subject_id, kind, status, \
                         requested_by, created_at, due_at, completed_at, rejection_reason, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(r.id.as_uuid())
                    .bind(r.tenant_id.as_uuid())
                    .bind(subject_type)
                    .bind(&subject_id)
                    .bind(r.kind.as_str())
                    .bind(r.status.as_str())
                    .bind(r.requested_by.as_uuid())
                    .bind(r.created_at)
                    .bind(r.due_at)
                    .bind(r.completed_at)
                    .bind(r.rejection_reason.as_deref())
                    .bind(r.updated_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn request(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::compliance::DsrId,
            ) -> Result<isms_domain::compliance::DataSubjectRequest, isms_domain::ports::RepoError>
            {
                crate::compliance_repos::tenant_row!(
                    self, tenant, id.as_uuid(), "gdpr_requests",
                    crate::gdpr_rows::REQUEST_COLUMNS, crate::gdpr_rows::RequestRow
                )
            }

            async fn requests(
                &self,
                tenant: isms_domain::TenantId,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::compliance::DataSubjectRequest>,
                isms_domain::ports::RepoError,
            > {
                crate::compliance_repos::tenant_page!(
                    self, tenant, page, "gdpr_requests",
                    crate::gdpr_rows::REQUEST_COLUMNS, crate::gdpr_rows::RequestRow,
                    isms_domain::compliance::DataSubjectRequest, |r| r.id.as_uuid()
                )
            }

            async fn open_requests(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::compliance::DataSubjectRequest>, isms_domain::ports::RepoError>
            {
                let sql = format!(
                    "SELECT {} FROM gdpr_requests WHERE tenant_id = $1 \
                     AND status IN ('received', 'in_progress') ORDER BY id",
                    crate::gdpr_rows::REQUEST_COLUMNS
                );
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::gdpr_rows::RequestRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                })
            }

            async fn queued_exports(
                &self,
                stale_before: isms_domain::time::Timestamp,
                limit: u32,
            ) -> Result<Vec<isms_domain::compliance::DataSubjectRequest>, isms_domain::ports::RepoError>
            {
                let sql = format!(
                    "SELECT {} FROM gdpr_requests WHERE kind IN ('access', 'export') \
                     AND (status = 'received' OR (status = 'in_progress' AND updated_at < $1)) \
                     ORDER BY id LIMIT $2",
                    crate::gdpr_rows::REQUEST_COLUMNS
                );
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::gdpr_rows::RequestRow>(sqlx::AssertSqlSafe(sql))
                        .bind(stale_before)
                        .bind(i64::from(limit))
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                })
            }

            async fn update_request(
                &self,
                r: &isms_domain::compliance::DataSubjectRequest,
                from: isms_domain::compliance::DsrStatus,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(r.tenant_id), c => {
                    crate::gdpr_repos::move_request!(c, r, from)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn complete_export(
                &self,
                r: &isms_domain::compliance::DataSubjectRequest,
                from: isms_domain::compliance::DsrStatus,
                export: &[u8],
                expires_at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let row = r.id.to_string();
                let (sealed, version) = self
                    .crypto
                    .get()?
                    .seal_field(
                        r.tenant_id,
                        crate::gdpr_repos::EXPORT_CLASSIFICATION,
                        &crate::gdpr_repos::export_place(&row),
                        export,
                    )
                    .await
                    .map_err(crate::pii::crypto_error)?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(r.tenant_id), c => {
                    crate::gdpr_repos::move_request!(c, r, from)?;
                    sqlx::query(
                        "INSERT INTO gdpr_exports (request_id, tenant_id, payload_enc, key_version, bytes, \
                         created_at, expires_at, downloaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
                    )
                    .bind(r.id.as_uuid())
                    .bind(r.tenant_id.as_uuid())
                    .bind(&sealed)
                    .bind(i64::from(version))
                    .bind(i64::try_from(export.len()).unwrap_or(i64::MAX))
                    .bind(r.updated_at)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn take_export(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::compliance::DsrId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<zeroize::Zeroizing<Vec<u8>>, isms_domain::ports::RepoError> {
                use isms_domain::compliance::{EXPORT_DOWNLOADED, EXPORT_EXPIRED};
                use isms_domain::ports::RepoError;
                let crypto = self.crypto.get()?.clone();
                let row = id.to_string();
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let found: Option<(Option<String>, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)> =
                        sqlx::query_as(
                            "SELECT payload_enc, expires_at, downloaded_at FROM gdpr_exports \
                             WHERE tenant_id = $1 AND request_id = $2",
                        )
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    let (payload, expires_at, downloaded_at) = found.ok_or(RepoError::NotFound)?;
                    if downloaded_at.is_some() {
                        return Err(RepoError::Conflict(EXPORT_DOWNLOADED));
                    }
                    let payload = match payload {
                        Some(p) if at <= expires_at => p,
                        _ => return Err(RepoError::Conflict(EXPORT_EXPIRED)),
                    };
                    // Claimed before it is opened: of two racing downloads
                    // one updates the row, the other finds it taken.
                    let done = sqlx::query(
                        "UPDATE gdpr_exports SET payload_enc = NULL, downloaded_at = $3 \
                         WHERE tenant_id = $1 AND request_id = $2 AND downloaded_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() == 0 {
                        return Err(RepoError::Conflict(EXPORT_DOWNLOADED));
                    }
                    let plain = crypto
                        .open_field(tenant, &crate::gdpr_repos::export_place(&row), &payload)
                        .await
                        .map_err(crate::pii::crypto_error)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(plain)
                })
            }

            async fn subject_records(
                &self,
                tenant: isms_domain::TenantId,
                subject: &isms_domain::compliance::DataSubject,
            ) -> Result<isms_domain::compliance::SubjectRecords, isms_domain::ports::RepoError> {
                let (subject_type, subject_id) = crate::compliance_rows::subject_columns(subject);
                let user = match subject {
                    isms_domain::compliance::DataSubject::User(u) => Some(*u),
                    isms_domain::compliance::DataSubject::External(_) => None,
                };
                let consents_sql = format!(
                    "SELECT {} FROM gdpr_consents WHERE tenant_id = $1 AND subject_type = $2 \
                     AND subject_id = $3 ORDER BY id",
                    crate::compliance_rows::CONSENT_COLUMNS
                );
                let requests_sql = format!(
                    "SELECT {} FROM gdpr_requests WHERE tenant_id = $1 AND subject_type = $2 \
                     AND subject_id = $3 ORDER BY id",
                    crate::gdpr_rows::REQUEST_COLUMNS
                );
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let mut out = isms_domain::compliance::SubjectRecords::default();
                    out.consents = crate::gdpr_repos::subject_rows!(c, tenant, crate::compliance_rows::ConsentRow, consents_sql,
                        subject_type, &subject_id);
                    out.requests = crate::gdpr_repos::subject_rows!(c, tenant, crate::gdpr_rows::RequestRow, requests_sql,
                        subject_type, &subject_id);
                    if let Some(u) = user {
                        out.sessions = crate::gdpr_repos::subject_rows!(c, tenant, crate::gdpr_rows::SessionRow,
                            "SELECT id, created_at, last_seen_at, expires_at, revoked_at, ip, user_agent \
                             FROM sessions WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id",
                            u.as_uuid());
                        out.access_reviews = crate::gdpr_repos::subject_rows!(c, tenant, crate::gdpr_rows::ReviewRow,
                            "SELECT id, user_id, reviewer_id, outcome, comment, reviewed_at \
                             FROM access_reviews WHERE tenant_id = $1 AND user_id = $2 \
                             ORDER BY reviewed_at, id",
                            u.as_uuid());
                        out.owned_assets = crate::gdpr_repos::subject_rows!(c, tenant, crate::gdpr_rows::AssetRow,
                            "SELECT id, name FROM assets WHERE tenant_id = $1 AND owner_id = $2 \
                             AND deleted_at IS NULL ORDER BY id",
                            u.as_uuid());
                    }
                    Ok(out)
                })
            }

            async fn users_without_lawful_basis(
                &self,
                tenant: isms_domain::TenantId,
                at: isms_domain::time::Timestamp,
            ) -> Result<Vec<isms_domain::UserId>, isms_domain::ports::RepoError> {
                let (users, covered): (Vec<uuid::Uuid>, Vec<String>) =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        let users: Vec<uuid::Uuid> = sqlx::query_scalar(
                            "SELECT id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL \
                             AND is_active = $2 ORDER BY id",
                        )
                        .bind(tenant.as_uuid())
                        .bind(true)
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        let covered: Vec<String> = sqlx::query_scalar(
                            "SELECT DISTINCT subject_id FROM gdpr_consents WHERE tenant_id = $1 \
                             AND subject_type = 'user' AND given_at <= $2 \
                             AND (withdrawn_at IS NULL OR withdrawn_at > $2)",
                        )
                        .bind(tenant.as_uuid())
                        .bind(at)
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        Ok((users, covered))
                    })?;
                let covered: std::collections::HashSet<uuid::Uuid> =
                    covered.iter().filter_map(|s| s.parse().ok()).collect();
                Ok(users
                    .into_iter()
                    .filter(|u| !covered.contains(u))
                    .map(Into::into)
                    .collect())
            }
        }
    };
}

pub(crate) use impl_gdpr_repository;

/// The converted rows of one query of a subject's records inside the
/// caller's connection `$c`: `$1` is the tenant, the rest bound in order.
macro_rules! subject_rows {
    ($c:ident, $tenant:ident, $row:ty, $sql:expr, $($bind:expr),+) => {
        sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(String::from($sql)))
            .bind($tenant.as_uuid())
            $(.bind($bind))+
            .fetch_all(&mut *$c)
            .await
            .map_err(crate::error::map)?
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, isms_domain::ports::RepoError>>()?
    };
}
pub(crate) use subject_rows;

/// Moves a stored request to `$r`'s status inside the caller's
/// transaction `$c`, if it is still `$from`.
macro_rules! move_request {
    ($c:ident, $r:expr, $from:expr) => {{
        async {
            let done = sqlx::query(
                "UPDATE gdpr_requests SET status = $3, completed_at = $4, rejection_reason = $5, \
                 updated_at = $6 WHERE tenant_id = $1 AND id = $2 AND status = $7",
            )
            .bind($r.tenant_id.as_uuid())
            .bind($r.id.as_uuid())
            .bind($r.status.as_str())
            .bind($r.completed_at)
            .bind($r.rejection_reason.as_deref())
            .bind($r.updated_at)
            .bind($from.as_str())
            .execute(&mut *$c)
            .await
            .map_err(crate::error::map)?;
            if done.rows_affected() == 0 {
                return Err(isms_domain::ports::RepoError::Conflict(
                    isms_domain::compliance::REQUEST_CHANGED,
                ));
            }
            Ok::<(), isms_domain::ports::RepoError>(())
        }
        .await
    }};
}
pub(crate) use move_request;
