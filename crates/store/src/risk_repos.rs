//! The risk register repository, instantiated for both backends like
//! `repos.rs` (portable SQL; the one dialect difference, null-safe
//! equality, is avoided by choosing the statement in Rust). Descriptions
//! are sealed before a transaction starts and opened after it ends: field
//! encryption may itself need the database (a first key), which must not
//! wait on our own write lock.

/// `%…%` for LIKE with `\` as the escape character.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// A tag matches as a whole JSON string element of the stored array.
pub(crate) fn tag_pattern(tag: &str) -> String {
    let quoted = serde_json::to_string(tag).unwrap_or_default();
    contains_pattern(&quoted)
}

pub(crate) fn name_pattern(q: &str) -> String {
    contains_pattern(&q.to_lowercase())
}

/// ORDER BY column of a sort field (a closed set: safe to splice).
pub(crate) fn sort_column(f: isms_domain::risk::SortField) -> &'static str {
    use isms_domain::risk::SortField as F;
    match f {
        F::Id => "id",
        F::Name => "name",
        F::CreatedAt => "created_at",
        F::UpdatedAt => "updated_at",
    }
}

/// The keyset and order clauses of a sorted list over `table`; the cursor
/// names the last row seen, whose sort key the subquery reads.
pub(crate) fn keyset(
    table: &str,
    sort: isms_domain::risk::Sort<isms_domain::risk::SortField>,
    cursor: &str,
    limit: &str,
) -> String {
    let col = sort_column(sort.field);
    let (cmp, dir) = if sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    format!(
        " AND ({cursor} IS NULL OR ({col}, id) {cmp} (SELECT {col}, id FROM {table} WHERE id = {cursor})) \
         ORDER BY {col} {dir}, id {dir} LIMIT {limit}"
    )
}

/// Rows per multi-row statement of a bulk write: at most 11 binds a row,
/// far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// `$from, $from+1, …` for `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! impl_risk_repository {
    ($store:ty) => {
        impl $store {
            async fn open_assets(
                &self,
                rows: Vec<crate::risk_rows::AssetRow>,
            ) -> Result<Vec<isms_domain::risk::Asset>, isms_domain::ports::RepoError> {
                let crypto = self.crypto.get()?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push(r.open(crypto.as_ref()).await?);
                }
                Ok(out)
            }

            /// The exposures of `assets` with their threats and
            /// vulnerabilities, grouped per asset in the given order.
            async fn assessment_inputs(
                &self,
                tenant: isms_domain::TenantId,
                assets: Vec<isms_domain::risk::Asset>,
            ) -> Result<Vec<isms_domain::risk::AssessmentInput>, isms_domain::ports::RepoError> {
                use std::collections::HashMap;
                if assets.is_empty() {
                    return Ok(Vec::new());
                }
                let (risks, threats, vulns) = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    // No ORDER BY: SQLite would then walk the tenant's
                    // whole (tenant_id, id) index for its order, once per
                    // batch; the exposure index finds the batch's rows.
                    let sql = format!(
                        "SELECT {} FROM risks r WHERE r.tenant_id = $1 AND r.deleted_at IS NULL \
                         AND r.asset_id IN ({})",
                        crate::risk_rows::risk_columns!(),
                        crate::risk_repos::placeholders(2, assets.len())
                    );
                    let mut q = sqlx::query_as::<_, crate::risk_rows::RiskRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_uuid());
                    for a in &assets {
                        q = q.bind(a.id.as_uuid());
                    }
                    let mut risks: Vec<isms_domain::risk::Risk> = q
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect::<Result<_, _>>()?;
                    // Contributions are listed in the order risks were created.
                    risks.sort_unstable_by_key(|r| r.id);
                    let mut threat_ids: Vec<uuid::Uuid> =
                        risks.iter().map(|r| r.exposure.threat_id.as_uuid()).collect();
                    threat_ids.sort_unstable();
                    threat_ids.dedup();
                    let mut vuln_ids: Vec<uuid::Uuid> = risks
                        .iter()
                        .filter_map(|r| r.exposure.vulnerability_id.map(|v| v.as_uuid()))
                        .collect();
                    vuln_ids.sort_unstable();
                    vuln_ids.dedup();
                    let mut threats = Vec::new();
                    if !threat_ids.is_empty() {
                        let sql = format!(
                            "SELECT {} FROM threats WHERE tenant_id = $1 AND id IN ({})",
                            crate::risk_rows::threat_columns!(""),
                            crate::risk_repos::placeholders(2, threat_ids.len())
                        );
                        let mut q = sqlx::query_as::<_, crate::risk_rows::ThreatRow>(sqlx::AssertSqlSafe(sql))
                            .bind(tenant.as_uuid());
                        for id in &threat_ids {
                            q = q.bind(*id);
                        }
                        threats = q.fetch_all(&mut *c).await.map_err(crate::error::map)?;
                    }
                    let mut vulns = Vec::new();
                    if !vuln_ids.is_empty() {
                        let sql = format!(
                            "SELECT {} FROM vulnerabilities WHERE tenant_id = $1 AND id IN ({})",
                            crate::risk_rows::vulnerability_columns!(""),
                            crate::risk_repos::placeholders(2, vuln_ids.len())
                        );
                        let mut q = sqlx::query_as::<_, crate::risk_rows::VulnerabilityRow>(
                            sqlx::AssertSqlSafe(sql),
                        )
                        .bind(tenant.as_uuid());
                        for id in &vuln_ids {
                            q = q.bind(*id);
                        }
                        vulns = q.fetch_all(&mut *c).await.map_err(crate::error::map)?;
                    }
                    Ok((risks, threats, vulns))
                })?;
                let threats: HashMap<isms_domain::risk::ThreatId, isms_domain::risk::Threat> = threats
                    .into_iter()
                    .map(|r| isms_domain::risk::Threat::try_from(r).map(|t| (t.id, t)))
                    .collect::<Result<_, _>>()?;
                let vulns: HashMap<isms_domain::risk::VulnerabilityId, isms_domain::risk::Vulnerability> =
                    vulns
                        .into_iter()
                        .map(|r| isms_domain::risk::Vulnerability::try_from(r).map(|v| (v.id, v)))
                        .collect::<Result<_, _>>()?;
                let mut by_asset: HashMap<isms_domain::risk::AssetId, Vec<isms_domain::risk::ExposurePair>> =
                    HashMap::new();
                for risk in risks {
                    let threat = threats
                        .get(&risk.exposure.threat_id)
                        .cloned()
                        .ok_or_else(|| crate::risk_rows::corrupt("exposure threat"))?;
                    let vulnerability = match risk.exposure.vulnerability_id {
                        Some(v) => Some(
                            vulns
                                .get(&v)
                                .cloned()
                                .ok_or_else(|| crate::risk_rows::corrupt("exposure vulnerability"))?,
                        ),
                        None => None,
                    };
                    by_asset
                        .entry(risk.exposure.asset_id)
                        .or_default()
                        .push(isms_domain::risk::ExposurePair { risk, threat, vulnerability });
                }
                Ok(assets
                    .into_iter()
                    .map(|asset| {
                        let pairs = by_asset.remove(&asset.id).unwrap_or_default();
                        isms_domain::risk::AssessmentInput { asset, pairs }
                    })
                    .collect())
            }

            /// Asset descriptions by classification and key version, for the
            /// encrypted-field inventory (a key version still sealing one
            /// cannot be retired).
            pub(crate) async fn asset_description_inventory(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Vec<isms_domain::crypto::FieldInventory>, isms_domain::ports::RepoError> {
                let rows: Vec<(String, i64, i64)> =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_as(
                            "SELECT coalesce(classification, 'internal'), description_key_version, COUNT(*) \
                             FROM assets WHERE tenant_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
                        )
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)
                    })?;
                let mut out: Vec<isms_domain::crypto::FieldInventory> = Vec::new();
                for (class, version, n) in rows {
                    let classification = isms_domain::crypto::Classification::parse(&class)
                        .map_err(|_| crate::risk_rows::corrupt("classification"))?;
                    let entry = (
                        u32::try_from(version).unwrap_or(0),
                        u64::try_from(n).unwrap_or(0),
                    );
                    match out.iter_mut().find(|f| f.classification == classification) {
                        Some(f) => f.by_version.push(entry),
                        None => out.push(isms_domain::crypto::FieldInventory {
                            table: "assets".into(),
                            column: "description".into(),
                            classification,
                            plaintext: 0,
                            by_version: vec![entry],
                        }),
                    }
                }
                Ok(out)
            }

            /// Reseals up to `limit` asset descriptions of `classification`
            /// still under an older key version with the primary one.
            pub(crate) async fn rewrap_asset_descriptions(
                &self,
                tenant: isms_domain::TenantId,
                classification: isms_domain::crypto::Classification,
                limit: u32,
            ) -> Result<u32, isms_domain::ports::RepoError> {
                let class = classification.as_str();
                // Without such assets, asking for the primary version
                // would create a key ring nobody needs.
                let any: i64 = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_scalar(
                        "SELECT COUNT(*) FROM assets WHERE tenant_id = $1 \
                         AND coalesce(classification, 'internal') = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(class)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                if any == 0 {
                    return Ok(0);
                }
                let crypto = self.crypto.get()?.clone();
                let primary = crypto
                    .primary_version(tenant, classification)
                    .await
                    .map_err(crate::pii::crypto_error)?;
                let rows = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::AssetRow>(concat!(
                        "SELECT ",
                        crate::risk_rows::asset_columns!(""),
                        " FROM assets WHERE tenant_id = $1 AND coalesce(classification, 'internal') = $2 \
                          AND description_key_version < $3 ORDER BY id LIMIT $4"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(class)
                    .bind(i64::from(primary))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                let assets = self.open_assets(rows).await?;
                let mut sealed = Vec::with_capacity(assets.len());
                for a in &assets {
                    sealed.push((a.id, crate::risk_rows::seal_description(crypto.as_ref(), a).await?));
                }
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    for (id, (enc, version)) in &sealed {
                        sqlx::query(
                            "UPDATE assets SET description_enc = $3, description_key_version = $4 \
                             WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .bind(enc)
                        .bind(*version)
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::map)?;
                    }
                    Ok(())
                })?;
                Ok(u32::try_from(sealed.len()).unwrap_or(u32::MAX))
            }

            async fn register_query(
                &self,
                tenant: isms_domain::TenantId,
                filter: &isms_domain::risk::RiskFilter,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<isms_domain::risk::RegisterEntry>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::RegisterRow>(concat!(
                        crate::risk_rows::register_select!(),
                        "AND ($2 IS NULL OR r.inherent_level = $2) AND ($3 IS NULL OR tr.status = $3) \
                         AND ($4 IS NULL OR coalesce(tr.owner_id, a.owner_id) = $4) \
                         AND ($5 IS NULL OR r.asset_id = $5) AND ($6 IS NULL OR r.id > $6) \
                         ORDER BY r.id LIMIT $7"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(filter.level.map(|l| l.as_str()))
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.owner.map(|o| o.as_uuid()))
                    .bind(filter.asset.map(|a| a.as_uuid()))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                })
            }

            async fn soft_delete_linked(
                &self,
                tenant: isms_domain::TenantId,
                table: &'static str,
                link: &'static str,
                id: uuid::Uuid,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {table} SET deleted_at = $3, updated_at = $3 \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
                    )))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if done.rows_affected() != 1 {
                        return Err(isms_domain::ports::RepoError::NotFound);
                    }
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE risks SET deleted_at = $3, updated_at = $3 \
                         WHERE tenant_id = $1 AND {link} = $2 AND deleted_at IS NULL"
                    )))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::risk::RiskRepository for $store {
            async fn matrix(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Option<isms_domain::risk::RiskMatrixSpec>, isms_domain::ports::RepoError> {
                let text: Option<String> =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_scalar("SELECT spec FROM risk_matrices WHERE tenant_id = $1")
                            .bind(tenant.as_uuid())
                            .fetch_optional(&mut *c)
                            .await
                            .map_err(crate::error::map)
                    })?;
                text.map(|t| {
                    serde_json::from_str(&t).map_err(|_| crate::risk_rows::corrupt("risk matrix"))
                })
                .transpose()
            }

            async fn put_matrix(
                &self,
                tenant: isms_domain::TenantId,
                spec: &isms_domain::risk::RiskMatrixSpec,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let text = serde_json::to_string(spec)
                    .map_err(|e| isms_domain::ports::RepoError::Internal(format!("risk matrix: {e}")))?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query(
                        "INSERT INTO risk_matrices (tenant_id, spec, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (tenant_id) DO UPDATE SET spec = excluded.spec, \
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

            async fn seed_catalogue(
                &self,
                tenant: isms_domain::TenantId,
                threats: &[isms_domain::risk::Threat],
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let claimed = sqlx::query(
                        "INSERT INTO threat_catalogue_seeds (tenant_id, seeded_at) VALUES ($1, $2) \
                         ON CONFLICT (tenant_id) DO NOTHING",
                    )
                    .bind(tenant.as_uuid())
                    .bind(isms_domain::time::now())
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .rows_affected()
                        == 1;
                    if !claimed {
                        return Ok(false);
                    }
                    for t in threats {
                        crate::risk_repos::insert_threat!(c, t)?;
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(true)
                })
            }

            async fn create_asset(
                &self,
                a: &isms_domain::risk::Asset,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let (enc, version) =
                    crate::risk_rows::seal_description(self.crypto.get()?.as_ref(), a).await?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(a.tenant_id), c => {
                    sqlx::query(
                        "INSERT INTO assets (id, tenant_id, name, description_enc, description_key_version, \
                         asset_type, owner_id, custodian, classification, confidentiality, integrity, \
                         availability, business_value, location, tags, status, last_reviewed_at, \
                         next_review_at, created_at, updated_at, deleted_at) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                    )
                    .bind(a.id.as_uuid())
                    .bind(a.tenant_id.as_uuid())
                    .bind(&a.name)
                    .bind(&enc)
                    .bind(version)
                    .bind(a.asset_type.as_str())
                    .bind(a.owner.map(|o| o.as_uuid()))
                    .bind(a.custodian.as_deref())
                    .bind(a.classification.map(|c| c.as_str()))
                    .bind(i64::from(a.confidentiality.get()))
                    .bind(i64::from(a.integrity.get()))
                    .bind(i64::from(a.availability.get()))
                    .bind(i64::from(a.business_value.get()))
                    .bind(a.location.as_deref())
                    .bind(crate::risk_rows::json(&a.tags)?)
                    .bind(a.status.as_str())
                    .bind(a.last_reviewed_at)
                    .bind(a.next_review_at)
                    .bind(a.created_at)
                    .bind(a.updated_at)
                    .bind(a.deleted_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn get_asset(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::AssetId,
            ) -> Result<isms_domain::risk::Asset, isms_domain::ports::RepoError> {
                let row = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::AssetRow>(concat!(
                        "SELECT ",
                        crate::risk_rows::asset_columns!(""),
                        " FROM assets WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                row.open(self.crypto.get()?.as_ref()).await
            }

            async fn asset_schedule(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::AssetId,
            ) -> Result<isms_domain::risk::AssetSchedule, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::ScheduleRow>(
                        "SELECT risk_score, risk_level, last_assessed_at, next_assessment_due FROM assets \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn update_asset(
                &self,
                a: &isms_domain::risk::Asset,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let (enc, version) =
                    crate::risk_rows::seal_description(self.crypto.get()?.as_ref(), a).await?;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(a.tenant_id), c => {
                    let done = sqlx::query(
                        "UPDATE assets SET name = $3, description_enc = $4, description_key_version = $5, \
                         asset_type = $6, owner_id = $7, custodian = $8, classification = $9, \
                         confidentiality = $10, integrity = $11, availability = $12, business_value = $13, \
                         location = $14, tags = $15, status = $16, last_reviewed_at = $17, \
                         next_review_at = $18, updated_at = $19 \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(a.tenant_id.as_uuid())
                    .bind(a.id.as_uuid())
                    .bind(&a.name)
                    .bind(&enc)
                    .bind(version)
                    .bind(a.asset_type.as_str())
                    .bind(a.owner.map(|o| o.as_uuid()))
                    .bind(a.custodian.as_deref())
                    .bind(a.classification.map(|c| c.as_str()))
                    .bind(i64::from(a.confidentiality.get()))
                    .bind(i64::from(a.integrity.get()))
                    .bind(i64::from(a.availability.get()))
                    .bind(i64::from(a.business_value.get()))
                    .bind(a.location.as_deref())
                    .bind(crate::risk_rows::json(&a.tags)?)
                    .bind(a.status.as_str())
                    .bind(a.last_reviewed_at)
                    .bind(a.next_review_at)
                    .bind(a.updated_at)
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

            async fn delete_asset(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::AssetId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                self.soft_delete_linked(tenant, "assets", "asset_id", id.as_uuid(), at, audit)
                    .await
            }

            async fn list_assets(
                &self,
                tenant: isms_domain::TenantId,
                f: &isms_domain::risk::AssetFilter,
                sort: isms_domain::risk::Sort<isms_domain::risk::SortField>,
                page: isms_domain::page::PageRequest,
            ) -> Result<isms_domain::page::Page<isms_domain::risk::Asset>, isms_domain::ports::RepoError> {
                let sql = format!(
                    "SELECT {} FROM assets WHERE tenant_id = $1 AND deleted_at IS NULL \
                     AND ($2 IS NULL OR asset_type = $2) AND ($3 IS NULL OR classification = $3) \
                     AND ($4 IS NULL OR owner_id = $4) AND ($5 IS NULL OR status = $5) \
                     AND ($6 IS NULL OR risk_level = $6) AND ($7 IS NULL OR tags LIKE $7 ESCAPE '\\') \
                     AND ($8 IS NULL OR lower(name) LIKE $8 ESCAPE '\\'){}",
                    crate::risk_rows::asset_columns!(""),
                    crate::risk_repos::keyset("assets", sort, "$9", "$10")
                );
                let rows = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::AssetRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_uuid())
                        .bind(f.asset_type.map(|t| t.as_str()))
                        .bind(f.classification.map(|c| c.as_str()))
                        .bind(f.owner.map(|o| o.as_uuid()))
                        .bind(f.status.map(|s| s.as_str()))
                        .bind(f.level.map(|l| l.as_str()))
                        .bind(f.tag.as_deref().map(crate::risk_repos::tag_pattern))
                        .bind(f.q.as_deref().map(crate::risk_repos::name_pattern))
                        .bind(page.after())
                        .bind(page.fetch_limit())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)
                })?;
                let assets = self.open_assets(rows).await?;
                Ok(isms_domain::page::Page::from_overfetch(assets, &page, |a| a.id.as_uuid()))
            }

            async fn create_threat(
                &self,
                t: &isms_domain::risk::Threat,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(t.tenant_id), c => {
                    crate::risk_repos::insert_threat!(c, t)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn get_threat(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::ThreatId,
            ) -> Result<isms_domain::risk::Threat, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::ThreatRow>(concat!(
                        "SELECT ",
                        crate::risk_rows::threat_columns!(""),
                        " FROM threats WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn update_threat(
                &self,
                t: &isms_domain::risk::Threat,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(t.tenant_id), c => {
                    let done = sqlx::query(
                        "UPDATE threats SET name = $3, category = $4, source = $5, description = $6, \
                         targets = $7, base_likelihood = $8, updated_at = $9 \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(t.tenant_id.as_uuid())
                    .bind(t.id.as_uuid())
                    .bind(&t.name)
                    .bind(t.category.as_str())
                    .bind(t.source.as_deref())
                    .bind(&t.description)
                    .bind(crate::risk_rows::json(&t.targets)?)
                    .bind(t.base_likelihood.as_str())
                    .bind(t.updated_at)
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

            async fn delete_threat(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::ThreatId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                self.soft_delete_linked(tenant, "threats", "threat_id", id.as_uuid(), at, audit)
                    .await
            }

            async fn list_threats(
                &self,
                tenant: isms_domain::TenantId,
                f: &isms_domain::risk::ThreatFilter,
                sort: isms_domain::risk::Sort<isms_domain::risk::SortField>,
                page: isms_domain::page::PageRequest,
            ) -> Result<isms_domain::page::Page<isms_domain::risk::Threat>, isms_domain::ports::RepoError> {
                let sql = format!(
                    "SELECT {} FROM threats WHERE tenant_id = $1 AND deleted_at IS NULL \
                     AND ($2 IS NULL OR category = $2) AND ($3 IS NULL OR lower(name) LIKE $3 ESCAPE '\\'){}",
                    crate::risk_rows::threat_columns!(""),
                    crate::risk_repos::keyset("threats", sort, "$4", "$5")
                );
                let rows: Vec<isms_domain::risk::Threat> =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_as::<_, crate::risk_rows::ThreatRow>(sqlx::AssertSqlSafe(sql))
                            .bind(tenant.as_uuid())
                            .bind(f.category.map(|x| x.as_str()))
                            .bind(f.q.as_deref().map(crate::risk_repos::name_pattern))
                            .bind(page.after())
                            .bind(page.fetch_limit())
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?
                            .into_iter()
                            .map(TryInto::try_into)
                            .collect()
                    })?;
                Ok(isms_domain::page::Page::from_overfetch(rows, &page, |t| t.id.as_uuid()))
            }

            async fn create_vulnerability(
                &self,
                v: &isms_domain::risk::Vulnerability,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(v.tenant_id), c => {
                    sqlx::query(
                        "INSERT INTO vulnerabilities (id, tenant_id, name, description, severity, cve, cwe, \
                         affected_assets, status, discovered_at, remediated_at, created_at, updated_at, deleted_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(v.id.as_uuid())
                    .bind(v.tenant_id.as_uuid())
                    .bind(&v.name)
                    .bind(&v.description)
                    .bind(v.severity.as_str())
                    .bind(v.cve.as_ref().map(|x| x.as_str().to_owned()))
                    .bind(v.cwe.map(|x| x.to_string()))
                    .bind(crate::risk_rows::json(&v.affected_assets)?)
                    .bind(v.status.as_str())
                    .bind(v.discovered_at)
                    .bind(v.remediated_at)
                    .bind(v.created_at)
                    .bind(v.updated_at)
                    .bind(v.deleted_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn get_vulnerability(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::VulnerabilityId,
            ) -> Result<isms_domain::risk::Vulnerability, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::VulnerabilityRow>(concat!(
                        "SELECT ",
                        crate::risk_rows::vulnerability_columns!(""),
                        " FROM vulnerabilities WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn update_vulnerability(
                &self,
                v: &isms_domain::risk::Vulnerability,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(v.tenant_id), c => {
                    let done = sqlx::query(
                        "UPDATE vulnerabilities SET name = $3, description = $4, severity = $5, cve = $6, \
                         cwe = $7, affected_assets = $8, status = $9, discovered_at = $10, \
                         remediated_at = $11, updated_at = $12 \
                         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                    )
                    .bind(v.tenant_id.as_uuid())
                    .bind(v.id.as_uuid())
                    .bind(&v.name)
                    .bind(&v.description)
                    .bind(v.severity.as_str())
                    .bind(v.cve.as_ref().map(|x| x.as_str().to_owned()))
                    .bind(v.cwe.map(|x| x.to_string()))
                    .bind(crate::risk_rows::json(&v.affected_assets)?)
                    .bind(v.status.as_str())
                    .bind(v.discovered_at)
                    .bind(v.remediated_at)
                    .bind(v.updated_at)
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

            async fn delete_vulnerability(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::VulnerabilityId,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                self.soft_delete_linked(
                    tenant,
                    "vulnerabilities",
                    "vulnerability_id",
                    id.as_uuid(),
                    at,
                    audit,
                )
                .await
            }

            async fn list_vulnerabilities(
                &self,
                tenant: isms_domain::TenantId,
                f: &isms_domain::risk::VulnerabilityFilter,
                sort: isms_domain::risk::Sort<isms_domain::risk::SortField>,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::risk::Vulnerability>,
                isms_domain::ports::RepoError,
            > {
                let sql = format!(
                    "SELECT {} FROM vulnerabilities WHERE tenant_id = $1 AND deleted_at IS NULL \
                     AND ($2 IS NULL OR severity = $2) AND ($3 IS NULL OR status = $3) \
                     AND ($4 IS NULL OR affected_assets LIKE $4 ESCAPE '\\') \
                     AND ($5 IS NULL OR lower(name) LIKE $5 ESCAPE '\\'){}",
                    crate::risk_rows::vulnerability_columns!(""),
                    crate::risk_repos::keyset("vulnerabilities", sort, "$6", "$7")
                );
                let rows: Vec<isms_domain::risk::Vulnerability> =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_as::<_, crate::risk_rows::VulnerabilityRow>(sqlx::AssertSqlSafe(sql))
                            .bind(tenant.as_uuid())
                            .bind(f.severity.map(|x| x.as_str()))
                            .bind(f.status.map(|x| x.as_str()))
                            .bind(f.asset.map(|a| crate::risk_repos::tag_pattern(&a.to_string())))
                            .bind(f.q.as_deref().map(crate::risk_repos::name_pattern))
                            .bind(page.after())
                            .bind(page.fetch_limit())
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?
                            .into_iter()
                            .map(TryInto::try_into)
                            .collect()
                    })?;
                Ok(isms_domain::page::Page::from_overfetch(rows, &page, |v| v.id.as_uuid()))
            }

            async fn add_exposure(
                &self,
                r: &isms_domain::risk::Risk,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let e = r.exposure;
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(e.tenant_id), c => {
                    let (ri, rl, rs, rv) = crate::risk_rows::residual_columns(r);
                    sqlx::query(
                        "INSERT INTO risks (id, tenant_id, asset_id, threat_id, vulnerability_id, \
                         inherent_impact, inherent_likelihood, inherent_score, inherent_level, \
                         residual_impact, residual_likelihood, residual_score, residual_level, \
                         assessed_at, created_at, updated_at, deleted_at) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL)",
                    )
                    .bind(r.id.as_uuid())
                    .bind(e.tenant_id.as_uuid())
                    .bind(e.asset_id.as_uuid())
                    .bind(e.threat_id.as_uuid())
                    .bind(e.vulnerability_id.map(|v| v.as_uuid()))
                    .bind(i64::from(r.inherent.impact))
                    .bind(i64::from(r.inherent.likelihood))
                    .bind(i64::from(r.inherent.score))
                    .bind(r.inherent.level.as_str())
                    .bind(ri)
                    .bind(rl)
                    .bind(rs)
                    .bind(rv)
                    .bind(r.assessed_at)
                    .bind(r.created_at)
                    .bind(r.updated_at)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn remove_exposure(
                &self,
                e: &isms_domain::risk::Exposure,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<isms_domain::risk::RiskId, isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(e.tenant_id), c => {
                    let base = "UPDATE risks SET deleted_at = $4, updated_at = $4 WHERE tenant_id = $1 \
                                AND asset_id = $2 AND threat_id = $3 AND deleted_at IS NULL";
                    let q = match e.vulnerability_id {
                        Some(v) => sqlx::query_scalar::<_, uuid::Uuid>(sqlx::AssertSqlSafe(format!(
                            "{base} AND vulnerability_id = $5 RETURNING id"
                        )))
                        .bind(e.tenant_id.as_uuid())
                        .bind(e.asset_id.as_uuid())
                        .bind(e.threat_id.as_uuid())
                        .bind(at)
                        .bind(v.as_uuid()),
                        None => sqlx::query_scalar::<_, uuid::Uuid>(sqlx::AssertSqlSafe(format!(
                            "{base} AND vulnerability_id IS NULL RETURNING id"
                        )))
                        .bind(e.tenant_id.as_uuid())
                        .bind(e.asset_id.as_uuid())
                        .bind(e.threat_id.as_uuid())
                        .bind(at),
                    };
                    let id = q
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .ok_or(isms_domain::ports::RepoError::NotFound)?;
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(isms_domain::risk::RiskId::from(id))
                })
            }

            async fn assessment_input(
                &self,
                tenant: isms_domain::TenantId,
                asset: isms_domain::risk::AssetId,
            ) -> Result<isms_domain::risk::AssessmentInput, isms_domain::ports::RepoError> {
                let asset = self.get_asset(tenant, asset).await?;
                self.assessment_inputs(tenant, vec![asset])
                    .await?
                    .pop()
                    .ok_or(isms_domain::ports::RepoError::NotFound)
            }

            async fn due_for_assessment(
                &self,
                tenant: isms_domain::TenantId,
                now: isms_domain::time::Timestamp,
                after: Option<isms_domain::risk::AssetId>,
                limit: u32,
            ) -> Result<Vec<isms_domain::risk::AssessmentInput>, isms_domain::ports::RepoError> {
                let rows = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::AssetRow>(concat!(
                        "SELECT ",
                        crate::risk_rows::asset_columns!(""),
                        " FROM assets WHERE tenant_id = $1 AND deleted_at IS NULL AND status <> 'disposed' \
                         AND (next_assessment_due IS NULL OR next_assessment_due <= $2) \
                         AND id > $3 ORDER BY id LIMIT $4"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(now)
                    // The nil id sorts before every id: a range the index
                    // can seek, where `$3 IS NULL OR id > $3` scanned from
                    // the tenant's first asset on every batch.
                    .bind(after.map_or(uuid::Uuid::nil(), |a| a.as_uuid()))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })?;
                let assets = self.open_assets(rows).await?;
                self.assessment_inputs(tenant, assets).await
            }

            async fn record_assessments(
                &self,
                tenant: isms_domain::TenantId,
                writes: &[isms_domain::risk::AssessmentWrite],
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                // Set-based: a few multi-row statements per chunk instead of
                // two statements per asset and one per risk.
                let mut results = Vec::with_capacity(writes.len());
                for w in writes {
                    let r = &w.result;
                    results.push((
                        r,
                        crate::risk_rows::json(&r.required_mitigations)?,
                        crate::risk_rows::json(&r.contributions)?,
                        crate::risk_rows::json(&r.compliance_status)?,
                        crate::risk_rows::json(&r.assessor)?,
                    ));
                }
                let risks: Vec<&isms_domain::risk::Risk> =
                    writes.iter().flat_map(|w| &w.risks).collect();
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(tenant), c => {
                    for chunk in results.chunks(crate::risk_repos::ROWS_PER_STATEMENT) {
                        let mut q = sqlx::QueryBuilder::new(
                            "INSERT INTO risk_assessments (id, tenant_id, asset_id, risk_score, risk_level, \
                             required_mitigations, next_assessment_due, contributions, compliance_status, \
                             assessor, assessed_at) ",
                        );
                        q.push_values(chunk, |mut b, (r, mitigations, contributions, compliance, assessor)| {
                            b.push_bind(r.id.as_uuid())
                                .push_bind(tenant.as_uuid())
                                .push_bind(r.asset_id.as_uuid())
                                .push_bind(i64::from(r.risk_score))
                                .push_bind(r.risk_level.as_str())
                                .push_bind(mitigations.as_str())
                                .push_bind(r.next_assessment_due)
                                .push_bind(contributions.as_str())
                                .push_bind(compliance.as_str())
                                .push_bind(assessor.as_str())
                                .push_bind(r.assessed_at);
                        });
                        q.build().execute(&mut *c).await.map_err(crate::error::map)?;
                        // The VALUES columns are column1.. on both backends.
                        let mut q = sqlx::QueryBuilder::new(
                            "UPDATE assets SET risk_score = v.column2, risk_level = v.column3, \
                             last_assessed_at = v.column4, next_assessment_due = v.column5 FROM (",
                        );
                        q.push_values(chunk, |mut b, (r, ..)| {
                            b.push_bind(r.asset_id.as_uuid())
                                .push_bind(i64::from(r.risk_score))
                                .push_bind(r.risk_level.as_str())
                                .push_bind(r.assessed_at)
                                .push_bind(r.next_assessment_due);
                        });
                        crate::risk_repos::join_values_by_id!(q, "assets", tenant)
                            .push(" AND assets.deleted_at IS NULL");
                        let done = q.build().execute(&mut *c).await.map_err(crate::error::map)?;
                        // Every asset must still be there (ids are distinct:
                        // one write per asset).
                        if done.rows_affected() != chunk.len() as u64 {
                            return Err(isms_domain::ports::RepoError::NotFound);
                        }
                    }
                    for chunk in risks.chunks(crate::risk_repos::ROWS_PER_STATEMENT) {
                        let mut q = sqlx::QueryBuilder::new(
                            "UPDATE risks SET inherent_impact = v.column2, inherent_likelihood = v.column3, \
                             inherent_score = v.column4, inherent_level = v.column5, residual_impact = v.column6, \
                             residual_likelihood = v.column7, residual_score = v.column8, \
                             residual_level = v.column9, assessed_at = v.column10, updated_at = v.column11 FROM (",
                        );
                        q.push_values(chunk, |mut b, r| {
                            let (ri, rl, rs, rv) = crate::risk_rows::residual_columns(r);
                            b.push_bind(r.id.as_uuid())
                                .push_bind(i64::from(r.inherent.impact))
                                .push_bind(i64::from(r.inherent.likelihood))
                                .push_bind(i64::from(r.inherent.score))
                                .push_bind(r.inherent.level.as_str())
                                .push_bind(ri)
                                .push_bind(rl)
                                .push_bind(rs)
                                .push_bind(rv)
                                .push_bind(r.assessed_at)
                                .push_bind(r.updated_at);
                        });
                        crate::risk_repos::join_values_by_id!(q, "risks", tenant);
                        q.build().execute(&mut *c).await.map_err(crate::error::map)?;
                    }
                    for w in writes {
                        for t in &w.treatments {
                            crate::risk_repos::upsert_treatment!(c, t)?;
                        }
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn list_assessments(
                &self,
                tenant: isms_domain::TenantId,
                asset: isms_domain::risk::AssetId,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::risk::AssessmentResult>,
                isms_domain::ports::RepoError,
            > {
                let rows: Vec<isms_domain::risk::AssessmentResult> =
                    crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                        sqlx::query_as::<_, crate::risk_rows::AssessmentRow>(
                            "SELECT id, tenant_id, asset_id, risk_score, risk_level, required_mitigations, \
                             next_assessment_due, contributions, compliance_status, assessor, assessed_at \
                             FROM risk_assessments WHERE tenant_id = $1 AND asset_id = $2 \
                             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
                        )
                        .bind(tenant.as_uuid())
                        .bind(asset.as_uuid())
                        .bind(page.after())
                        .bind(page.fetch_limit())
                        .fetch_all(&mut *c)
                        .await
                        .map_err(crate::error::map)?
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect()
                    })?;
                Ok(isms_domain::page::Page::from_overfetch(rows, &page, |a| a.id.as_uuid()))
            }

            async fn get_risk(
                &self,
                tenant: isms_domain::TenantId,
                id: isms_domain::risk::RiskId,
            ) -> Result<isms_domain::risk::RegisterEntry, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::risk_rows::RegisterRow>(concat!(
                        crate::risk_rows::register_select!(),
                        "AND r.id = $2"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn treatments_of(
                &self,
                tenant: isms_domain::TenantId,
                risks: &[isms_domain::risk::RiskId],
            ) -> Result<Vec<isms_domain::risk::Treatment>, isms_domain::ports::RepoError> {
                if risks.is_empty() {
                    return Ok(Vec::new());
                }
                let bodies: Vec<String> = crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let mut bodies = Vec::new();
                    for chunk in risks.chunks(crate::risk_repos::ROWS_PER_STATEMENT) {
                        let sql = format!(
                            "SELECT body FROM risk_treatments WHERE tenant_id = $1 AND risk_id IN ({})",
                            crate::risk_repos::placeholders(2, chunk.len())
                        );
                        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                            .bind(tenant.as_uuid());
                        for id in chunk {
                            q = q.bind(id.as_uuid());
                        }
                        bodies.extend(q.fetch_all(&mut *c).await.map_err(crate::error::map)?);
                    }
                    Ok(bodies)
                })?;
                bodies.iter().map(|b| crate::risk_rows::treatment_of(b)).collect()
            }

            async fn list_risks(
                &self,
                tenant: isms_domain::TenantId,
                filter: &isms_domain::risk::RiskFilter,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::risk::RegisterEntry>,
                isms_domain::ports::RepoError,
            > {
                let rows = self
                    .register_query(tenant, filter, page.after(), page.fetch_limit())
                    .await?;
                Ok(isms_domain::page::Page::from_overfetch(rows, &page, |r| r.risk.id.as_uuid()))
            }

            async fn all_risks(
                &self,
                tenant: isms_domain::TenantId,
                filter: &isms_domain::risk::RiskFilter,
            ) -> Result<Vec<isms_domain::risk::RegisterEntry>, isms_domain::ports::RepoError> {
                self.register_query(tenant, filter, None, i64::MAX).await
            }

            async fn save_treatment(
                &self,
                t: &isms_domain::risk::Treatment,
                risk: Option<&isms_domain::risk::Risk>,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                crate::scope::scoped_tx!(self, crate::scope::Scope::Tenant(t.tenant_id), c => {
                    crate::risk_repos::upsert_treatment!(c, t)?;
                    if let Some(r) = risk {
                        crate::risk_repos::update_risk_scores!(c, t.tenant_id, r)?;
                    }
                    crate::audit_append::append_audit!(c, audit)?;
                    Ok(())
                })
            }

            async fn risk_review_input(
                &self,
                tenant: isms_domain::TenantId,
                _now: isms_domain::time::Timestamp,
            ) -> Result<isms_domain::compliance::rules::RiskReviewInput, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let assets: Vec<(uuid::Uuid, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
                        "SELECT id, next_assessment_due FROM assets WHERE tenant_id = $1 \
                         AND deleted_at IS NULL AND status = 'active' ORDER BY id",
                    )
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    let risks = sqlx::query_as::<_, crate::risk_rows::ReviewRiskRow>(
                        "SELECT r.id, r.asset_id, r.inherent_level, tr.status AS treatment_status \
                         FROM risks r JOIN assets a ON a.id = r.asset_id \
                         LEFT JOIN risk_treatments tr ON tr.risk_id = r.id \
                         WHERE r.tenant_id = $1 AND r.deleted_at IS NULL AND a.deleted_at IS NULL \
                         AND r.inherent_level IN ('critical', 'high') ORDER BY r.id",
                    )
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(isms_domain::compliance::rules::RiskReviewInput {
                        assets: assets
                            .into_iter()
                            .map(|(id, due)| isms_domain::compliance::rules::AssetReview {
                                id: id.into(),
                                next_assessment_due: due,
                            })
                            .collect(),
                        risks: risks
                            .into_iter()
                            .map(TryInto::try_into)
                            .collect::<Result<_, _>>()?,
                    })
                })
            }
        }
    };
}

pub(crate) use impl_risk_repository;

macro_rules! insert_threat {
    ($c:ident, $t:expr) => {{
        let t: &isms_domain::risk::Threat = $t;
        sqlx::query(
            "INSERT INTO threats (id, tenant_id, name, category, source, description, targets, \
             base_likelihood, created_at, updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(t.id.as_uuid())
        .bind(t.tenant_id.as_uuid())
        .bind(&t.name)
        .bind(t.category.as_str())
        .bind(t.source.as_deref())
        .bind(&t.description)
        .bind(crate::risk_rows::json(&t.targets)?)
        .bind(t.base_likelihood.as_str())
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(t.deleted_at)
        .execute(&mut *$c)
        .await
        .map(|_| ())
        .map_err(crate::error::map)
    }};
}

pub(crate) use insert_threat;

macro_rules! update_risk_scores {
    ($c:ident, $tenant:expr, $r:expr) => {{
        let r: &isms_domain::risk::Risk = $r;
        let (ri, rl, rs, rv) = crate::risk_rows::residual_columns(r);
        sqlx::query(
            "UPDATE risks SET inherent_impact = $3, inherent_likelihood = $4, inherent_score = $5, \
             inherent_level = $6, residual_impact = $7, residual_likelihood = $8, residual_score = $9, \
             residual_level = $10, assessed_at = $11, updated_at = $12 WHERE tenant_id = $1 AND id = $2",
        )
        .bind($tenant.as_uuid())
        .bind(r.id.as_uuid())
        .bind(i64::from(r.inherent.impact))
        .bind(i64::from(r.inherent.likelihood))
        .bind(i64::from(r.inherent.score))
        .bind(r.inherent.level.as_str())
        .bind(ri)
        .bind(rl)
        .bind(rs)
        .bind(rv)
        .bind(r.assessed_at)
        .bind(r.updated_at)
        .execute(&mut *$c)
        .await
        .map(|_| ())
        .map_err(crate::error::map)
    }};
}

pub(crate) use update_risk_scores;

/// Closes the `FROM (VALUES ...` of a bulk update of `$table` and joins
/// each VALUES row (`column1` the id) to its row of the tenant, marked so
/// that SQLite looks each one up by primary key (`SqliteStore::NO_INDEX`).
macro_rules! join_values_by_id {
    ($q:expr, $table:literal, $tenant:expr) => {
        $q.push(") AS v WHERE ")
            .push(Self::NO_INDEX)
            .push(concat!($table, ".tenant_id = "))
            .push_bind($tenant.as_uuid())
            .push(concat!(" AND ", $table, ".id = "))
            .push(Self::NO_INDEX)
            .push("v.column1")
    };
}

pub(crate) use join_values_by_id;

macro_rules! upsert_treatment {
    ($c:ident, $t:expr) => {{
        let t: &isms_domain::risk::Treatment = $t;
        sqlx::query(
            "INSERT INTO risk_treatments (id, tenant_id, risk_id, option, owner_id, status, due_date, body, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (risk_id) DO UPDATE SET id = excluded.id, option = excluded.option, \
             owner_id = excluded.owner_id, status = excluded.status, due_date = excluded.due_date, \
             body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(t.id.as_uuid())
        .bind(t.tenant_id.as_uuid())
        .bind(t.risk_id.as_uuid())
        .bind(t.option.as_str())
        .bind(t.owner.as_uuid())
        .bind(t.status.as_str())
        .bind(t.due_date)
        .bind(crate::risk_rows::json(t)?)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&mut *$c)
        .await
        .map(|_| ())
        .map_err(crate::error::map)
    }};
}

pub(crate) use upsert_treatment;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(tag_pattern("crm"), "%\"crm\"%");
        assert_eq!(name_pattern("CRM"), "%crm%");
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
    }
}
