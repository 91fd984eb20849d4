//! Compliance results, score history, configuration, access reviews and
//! job leases, instantiated for both backends.

/// One keyset page of a tenant's rows of `$table`, in id order.
macro_rules! tenant_page {
    ($self:ident, $tenant:ident, $page:ident, $table:literal, $columns:expr, $row:ty,
     $out:ty, $key:expr) => {{
        let sql = format!(
            concat!(
                "SELECT {} FROM ",
                $table,
                " WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
            ),
            $columns
        );
        crate::scope::scoped!($self, crate::scope::Scope::Tenant($tenant), c => {
            let rows = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql))
                .bind($tenant.as_uuid())
                .bind($page.after())
                .bind($page.fetch_limit())
                .fetch_all(&mut *c)
                .await
                .map_err(crate::error::map)?
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<Vec<$out>, _>>()?;
            Ok(isms_domain::page::Page::from_overfetch(rows, &$page, $key))
        })
    }};
}
pub(crate) use tenant_page;

/// One row of a tenant's `$table` by id, converted; `NotFound` for an id
/// of another tenant or none.
macro_rules! tenant_row {
    ($self:ident, $tenant:ident, $id:expr, $table:literal, $columns:expr, $row:ty) => {{
        let sql = format!(
            concat!("SELECT {} FROM ", $table, " WHERE tenant_id = $1 AND id = $2"),
            $columns
        );
        crate::scope::scoped!($self, crate::scope::Scope::Tenant($tenant), c => {
            sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql))
                .bind($tenant.as_uuid())
                .bind($id)
                .fetch_optional(&mut *c)
                .await
                .map_err(crate::error::map)?
                .ok_or(isms_domain::ports::RepoError::NotFound)?
                .try_into()
        })
    }};
}
pub(crate) use tenant_row;

macro_rules! impl_compliance_repositories {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl isms_domain::compliance::ComplianceRepository for $store {
            async fn config(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Option<isms_domain::compliance::CheckConfig>, isms_domain::ports::RepoError>
            {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let text: Option<String> = sqlx::query_scalar(
                        "SELECT config FROM compliance_configs WHERE tenant_id = $1",
                    )
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    text.as_deref().map(crate::compliance_rows::config_of).transpose()
                })
            }

            async fn put_config(
                &self,
                tenant: isms_domain::TenantId,
                config: &isms_domain::compliance::CheckConfig,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let text = crate::compliance_rows::config_text(config)?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO compliance_configs (tenant_id, config, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (tenant_id) DO UPDATE SET config = excluded.config, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(tenant.as_uuid())
                    .bind(&text)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn record_run(
                &self,
                tenant: isms_domain::TenantId,
                results: &[isms_domain::compliance::CheckResult],
                snapshot: &isms_domain::compliance::ScoreSnapshot,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let mut encoded = Vec::with_capacity(results.len());
                for r in results {
                    encoded.push((r, crate::compliance_rows::result_json(r)?));
                }
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    for (r, (details, controls)) in &encoded {
                        sqlx::query(
                            "INSERT INTO compliance_results (id, tenant_id, check_id, severity, status, \
                             message, details, recommendation, controls, ran_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(uuid::Uuid::now_v7())
                        .bind(tenant.as_uuid())
                        .bind(r.check.as_str())
                        .bind(r.severity.as_str())
                        .bind(r.status.as_str())
                        .bind(&r.message)
                        .bind(details)
                        .bind(r.recommendation.as_deref())
                        .bind(controls)
                        .bind(r.ran_at)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    }
                    sqlx::query(
                        "INSERT INTO compliance_scores (id, tenant_id, overall_status, score_tenths, \
                         critical_issues, warnings, ran_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(snapshot.id)
                    .bind(tenant.as_uuid())
                    .bind(snapshot.overall_status.as_str())
                    .bind(i64::from(snapshot.score.tenths()))
                    .bind(i64::from(snapshot.critical_issues))
                    .bind(i64::from(snapshot.warnings))
                    .bind(snapshot.ran_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn latest_results(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::compliance::CheckResult>, isms_domain::ports::RepoError>
            {
                // Ids are UUIDv7, so the greatest id of a check is its
                // latest result (text timestamps do not sort reliably on
                // SQLite).
                let sql = format!(
                    "SELECT {} FROM compliance_results r WHERE r.tenant_id = $1 AND r.id = \
                     (SELECT r2.id FROM compliance_results r2 WHERE r2.tenant_id = r.tenant_id \
                      AND r2.check_id = r.check_id ORDER BY r2.id DESC LIMIT 1) ORDER BY r.check_id",
                    crate::compliance_rows::RESULT_COLUMNS
                );
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::compliance_rows::ResultRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                })
            }

            async fn history(
                &self,
                tenant: isms_domain::TenantId,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::compliance::ScoreSnapshot>,
                isms_domain::ports::RepoError,
            > {
                crate::compliance_repos::tenant_page!(
                    self, tenant, page, "compliance_scores",
                    crate::compliance_rows::SCORE_COLUMNS, crate::compliance_rows::ScoreRow,
                    isms_domain::compliance::ScoreSnapshot, |s| s.id
                )
            }

            async fn record_reviews(
                &self,
                tenant: isms_domain::TenantId,
                reviews: &[isms_domain::compliance::AccessReview],
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    for r in reviews {
                        let done = sqlx::query(
                            "UPDATE users SET last_access_review_at = $1 \
                             WHERE tenant_id = $2 AND id = $3 AND deleted_at IS NULL",
                        )
                        .bind(r.reviewed_at)
                        .bind(tenant.as_uuid())
                        .bind(r.user_id.as_uuid())
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                        if done.rows_affected() == 0 {
                            return Err(isms_domain::ports::RepoError::NotFound);
                        }
                        sqlx::query(
                            "INSERT INTO access_reviews (id, tenant_id, user_id, reviewer_id, outcome, \
                             comment, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(r.id)
                        .bind(tenant.as_uuid())
                        .bind(r.user_id.as_uuid())
                        .bind(r.reviewer_id.as_uuid())
                        .bind(r.outcome.as_str())
                        .bind(r.comment.as_deref())
                        .bind(r.reviewed_at)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn soa_decisions(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::compliance::SoaDecision>, isms_domain::ports::RepoError>
            {
                let sql = format!(
                    "SELECT {} FROM soa_decisions WHERE tenant_id = $1 ORDER BY control_id",
                    crate::compliance_rows::SOA_COLUMNS
                );
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::compliance_rows::SoaRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                })
            }

            async fn put_soa_decision(
                &self,
                tenant: isms_domain::TenantId,
                d: &isms_domain::compliance::SoaDecision,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO soa_decisions (tenant_id, control_id, applicable, justification, \
                         status, owner_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (tenant_id, control_id) DO UPDATE SET \
                         applicable = excluded.applicable, justification = excluded.justification, \
                         status = excluded.status, owner_id = excluded.owner_id, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(tenant.as_uuid())
                    .bind(&d.control_id)
                    .bind(d.applicable)
                    .bind(d.justification.as_deref())
                    .bind(d.status.as_str())
                    .bind(d.owner.map(|o| o.as_uuid()))
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn insert_report(
                &self,
                r: &isms_domain::compliance::SignedReport,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let text = crate::compliance_rows::report_text(r)?;
                let tenant = r.report.tenant_id;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO compliance_reports (id, tenant_id, generated_at, report, \
                         signature, key_id) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(r.report.id.as_uuid())
                    .bind(tenant.as_uuid())
                    .bind(r.report.generated_at)
                    .bind(&text)
                    .bind(&r.signature)
                    .bind(&r.key_id)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn report(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::compliance::ReportId,
            ) -> Result<isms_domain::compliance::SignedReport, isms_domain::ports::RepoError> {
                crate::compliance_repos::tenant_row!(
                    self, tenant, id.as_uuid(), "compliance_reports",
                    "report, signature, key_id", crate::compliance_rows::ReportRow
                )
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::compliance::ConsentRepository for $store {
            async fn insert_consent(
                &self,
                c: &isms_domain::compliance::Consent,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let (subject_type, subject_id) = crate::compliance_rows::subject_columns(&c.subject);
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(c.tenant_id), tx => {
                    sqlx::query(
                        "INSERT INTO gdpr_consents (id, tenant_id, subject_type, subject_id, purpose, \
                         lawful_basis, given_at, withdrawn_at, evidence, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(c.id.as_uuid())
                    .bind(c.tenant_id.as_uuid())
                    .bind(subject_type)
                    .bind(&subject_id)
                    .bind(&c.purpose)
                    .bind(c.lawful_basis.as_str())
                    .bind(c.given_at)
                    .bind(c.withdrawn_at)
                    .bind(&c.evidence)
                    .bind(c.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(tx, audit)?;
                    Ok(())
                })
            }

            async fn consent(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::compliance::ConsentId,
            ) -> Result<isms_domain::compliance::Consent, isms_domain::ports::RepoError> {
                crate::compliance_repos::tenant_row!(
                    self, tenant, id.as_uuid(), "gdpr_consents",
                    crate::compliance_rows::CONSENT_COLUMNS, crate::compliance_rows::ConsentRow
                )
            }

            async fn consents(
                &self,
                tenant: isms_domain::TenantId,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::compliance::Consent>,
                isms_domain::ports::RepoError,
            > {
                crate::compliance_repos::tenant_page!(
                    self, tenant, page, "gdpr_consents",
                    crate::compliance_rows::CONSENT_COLUMNS, crate::compliance_rows::ConsentRow,
                    isms_domain::compliance::Consent, |c| c.id.as_uuid()
                )
            }

            async fn withdraw_consent(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::compliance::ConsentId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let done = sqlx::query(
                        "UPDATE gdpr_consents SET withdrawn_at = $1 \
                         WHERE tenant_id = $2 AND id = $3 AND withdrawn_at IS NULL",
                    )
                    .bind(at)
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() == 0 {
                        return Err(isms_domain::ports::RepoError::Conflict("consent_withdrawn"));
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::compliance::JobLeases for $store {
            async fn try_acquire(
                &self,
                lease: &isms_domain::compliance::JobLease,
                now: isms_domain::time::Timestamp,
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(lease.tenant), c => {
                    // One conditional upsert: of racing instances exactly
                    // one inserts or takes over an expired lease.
                    let done = sqlx::query(
                        "INSERT INTO job_leases (name, tenant_id, check_id, holder, expires_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (name, tenant_id, check_id) DO UPDATE \
                         SET holder = excluded.holder, expires_at = excluded.expires_at \
                         WHERE job_leases.expires_at <= $6 OR job_leases.holder = excluded.holder",
                    )
                    .bind(&lease.name)
                    .bind(lease.tenant.as_uuid())
                    .bind(lease.check.as_str())
                    .bind(&lease.holder)
                    .bind(lease.expires_at)
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(done.rows_affected() == 1)
                })
            }
        }
    };
}

pub(crate) use impl_compliance_repositories;
