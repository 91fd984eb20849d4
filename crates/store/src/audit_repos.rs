//! Audit log, audit key, alert and audit-policy repositories, instantiated
//! for both backends (portable SQL; the head lock differs per backend and
//! comes from `Self::AUDIT_HEAD_FOR_UPDATE`).

/// The scope of a log's rows: its tenant, or the server for the server log.
pub(crate) fn scope_of(log: &isms_domain::audit::LogId) -> crate::scope::Scope {
    log.tenant_id()
        .map_or(crate::scope::Scope::Server, crate::scope::Scope::Tenant)
}

macro_rules! impl_audit_repositories {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl isms_domain::ports::AuditRepository for $store {
            async fn append(
                &self,
                records: &[isms_domain::audit::AuditRecord],
            ) -> Result<Vec<isms_domain::audit::AuditEntry>, isms_domain::ports::RepoError> {
                // One tenant per batch keeps the scope simple; a mixed batch
                // (rare: provisioning) runs in the server scope.
                let tenants: std::collections::BTreeSet<_> =
                    records.iter().map(|r| r.tenant_id).collect();
                let scope = match tenants.into_iter().collect::<Vec<_>>().as_slice() {
                    [Some(t)] => crate::scope::Scope::Tenant(*t),
                    _ => crate::scope::Scope::Server,
                };
                let mut tx = self.tx(scope).await?;
                let stored = crate::audit_append::append_audit!(tx, records)?;
                tx.commit().await.map_err(crate::error::map)?;
                Ok(stored)
            }

            async fn head(
                &self,
                log: &isms_domain::audit::LogId,
            ) -> Result<isms_domain::ports::AuditHead, isms_domain::ports::RepoError> {
                crate::scope::scoped_read!(self, crate::audit_repos::scope_of(log), c => {
                    let row = sqlx::query_as::<_, crate::audit_rows::HeadRow>(
                        "SELECT log_id, size, root_hash FROM audit_logs WHERE log_id = $1",
                    )
                    .bind(log.to_string())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    match row {
                        Some(r) => r.try_into(),
                        None => Ok(isms_domain::ports::AuditHead {
                            log_id: log.clone(),
                            size: 0,
                            root_hash: isms_domain::audit::empty_root(),
                        }),
                    }
                })
            }

            async fn logs(
                &self,
            ) -> Result<Vec<isms_domain::ports::AuditHead>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::audit_rows::HeadRow>(
                        "SELECT log_id, size, root_hash FROM audit_logs WHERE size > 0 ORDER BY log_id",
                    )
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                })
            }

            async fn nodes(
                &self,
                log: &isms_domain::audit::LogId,
                ids: &[isms_domain::audit::NodeId],
            ) -> Result<
                Vec<(isms_domain::audit::NodeId, isms_domain::audit::Hash)>,
                isms_domain::ports::RepoError,
            > {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                crate::scope::scoped_read!(self, crate::audit_repos::scope_of(log), c => {
                    let log_text = log.to_string();
                    let rows: Vec<(i64, i64, Vec<u8>)> = if let Some(sql) =
                        Self::AUDIT_NODES_BY_LIST
                    {
                        // One statement whatever the number of nodes: it
                        // is prepared once per connection, not once per
                        // proof shape.
                        let mut levels = String::with_capacity(ids.len() * 3);
                        let mut indexes = String::with_capacity(ids.len() * 8);
                        for (i, id) in ids.iter().enumerate() {
                            if i > 0 {
                                levels.push(',');
                                indexes.push(',');
                            }
                            levels.push_str(&id.level.to_string());
                            indexes.push_str(&crate::audit_rows::to_i64(id.index)?.to_string());
                        }
                        sqlx::query_as(sql)
                            .bind(&log_text)
                            .bind(levels)
                            .bind(indexes)
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?
                    } else {
                        // One round trip of point lookups on the primary key
                        // (an OR of pairs defeats the index on SQLite).
                        let mut q = sqlx::QueryBuilder::new("");
                        for (i, id) in ids.iter().enumerate() {
                            if i > 0 {
                                q.push(" UNION ALL ");
                            }
                            q.push("SELECT CAST(level AS BIGINT), idx, hash FROM audit_nodes WHERE log_id = ");
                            q.push_bind(log_text.clone());
                            q.push(" AND level = ");
                            q.push_bind(i16::from(id.level));
                            q.push(" AND idx = ");
                            q.push_bind(crate::audit_rows::to_i64(id.index)?);
                        }
                        q.build_query_as()
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?
                    };
                    rows.into_iter()
                        .map(|(level, idx, hash)| {
                            Ok((
                                isms_domain::audit::NodeId {
                                    level: u8::try_from(level)
                                        .map_err(|_| crate::audit_rows::corrupt("node level"))?,
                                    index: crate::audit_rows::to_u64(idx, "node index")?,
                                },
                                crate::audit_rows::hash_of(&hash, "node hash")?,
                            ))
                        })
                        .collect()
                })
            }

            async fn scan(
                &self,
                log: &isms_domain::audit::LogId,
                from: u64,
                limit: u32,
            ) -> Result<Vec<isms_domain::audit::RawEntry>, isms_domain::ports::RepoError> {
                crate::scope::scoped_read!(self, crate::audit_repos::scope_of(log), c => {
                    if let Some(sql) = Self::AUDIT_SCAN_AS_TEXT {
                        // One row for the whole batch: a backend whose
                        // driver hands rows over one at a time (SQLite)
                        // reads a million entries in seconds this way.
                        let text: Option<String> = sqlx::query_scalar(sql)
                            .bind(log.to_string())
                            .bind(crate::audit_rows::to_i64(from)?)
                            .bind(i64::from(limit))
                            .fetch_one(&mut *c)
                            .await
                            .map_err(crate::error::map)?;
                        return crate::audit_rows::entries_from_text(text.as_deref());
                    }
                    // Columns by position, strings and bytes borrowed
                    // from the row until they are kept: a million rows
                    // are decoded without a name lookup per column.
                    //
                    // The page is read as the range [from, from + limit)
                    // first: an open `seq >= $2` lets the planner (before
                    // the table is analysed) choose a bitmap scan of the
                    // whole rest of the log and a sort that spills to
                    // disk, for every page. Only a short range (a gap, or
                    // the tail) is topped up from beyond it.
                    use sqlx::Row as _;
                    let from_i = crate::audit_rows::to_i64(from)?;
                    let end = from_i.saturating_add(i64::from(limit));
                    let mut rows = sqlx::query(concat!(
                        "SELECT ",
                        crate::audit_rows::entry_columns!(),
                        " FROM audit_entries WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq"
                    ))
                    .bind(log.to_string())
                    .bind(from_i)
                    .bind(end)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    if rows.len() < limit as usize {
                        let more = limit as usize - rows.len();
                        rows.extend(
                            sqlx::query(concat!(
                                "SELECT ",
                                crate::audit_rows::entry_columns!(),
                                " FROM audit_entries WHERE log_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3"
                            ))
                            .bind(log.to_string())
                            .bind(end)
                            .bind(i64::try_from(more).unwrap_or(i64::MAX))
                            .fetch_all(&mut *c)
                            .await
                            .map_err(crate::error::map)?,
                        );
                    }
                    let m = crate::error::map;
                    rows.iter()
                        .map(|row| {
                            Ok(isms_domain::audit::RawEntry {
                                seq: crate::audit_rows::to_u64(row.try_get(0).map_err(m)?, "audit seq")?,
                                canonical: row.try_get::<&str, _>(1).map_err(m)?.as_bytes().to_vec(),
                                leaf_hash: crate::audit_rows::hash_of(
                                    row.try_get::<&[u8], _>(2).map_err(m)?,
                                    "leaf hash",
                                )?,
                                indexed: Some(isms_domain::audit::IndexedColumns {
                                    id: row.try_get(3).map_err(m)?,
                                    tenant_id: row.try_get(4).map_err(m)?,
                                    occurred_at: row.try_get(5).map_err(m)?,
                                    event_type: row.try_get(6).map_err(m)?,
                                    actor_user_id: row.try_get(7).map_err(m)?,
                                    resource_type: row.try_get(8).map_err(m)?,
                                    resource_id: row.try_get(9).map_err(m)?,
                                    outcome: row.try_get(10).map_err(m)?,
                                    ip: row.try_get(11).map_err(m)?,
                                    compliance_flags: row.try_get(12).map_err(m)?,
                                    risk_score: row.try_get(13).map_err(m)?,
                                }),
                            })
                        })
                        .collect()
                })
            }

            async fn query(
                &self,
                log: &isms_domain::audit::LogId,
                f: &isms_domain::ports::AuditFilter,
            ) -> Result<Vec<isms_domain::audit::AuditEntry>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::audit_repos::scope_of(log), c => {
                    let flag = f.flag.map(|fl| format!("%\"{}\"%", fl.as_str()));
                    let before = f.before_seq.map(crate::audit_rows::to_i64).transpose()?;
                    sqlx::query_as::<_, crate::audit_rows::EntryRow>(concat!(
                        "SELECT seq, canonical",
                        " FROM audit_entries WHERE log_id = $1 \
                          AND ($2 IS NULL OR occurred_at >= $2) AND ($3 IS NULL OR occurred_at < $3) \
                          AND ($4 IS NULL OR event_type = $4) AND ($5 IS NULL OR actor_user_id = $5) \
                          AND ($6 IS NULL OR resource_type = $6) AND ($7 IS NULL OR resource_id = $7) \
                          AND ($8 IS NULL OR outcome = $8) AND ($9 IS NULL OR risk_score >= $9) \
                          AND ($10 IS NULL OR compliance_flags LIKE $10) AND ($11 IS NULL OR seq < $11) \
                          ORDER BY seq DESC LIMIT $12"
                    ))
                    .bind(log.to_string())
                    .bind(f.from)
                    .bind(f.to)
                    .bind(f.event_type.as_deref())
                    .bind(f.actor_user_id.map(|u| u.as_uuid()))
                    .bind(f.resource_type.as_deref())
                    .bind(f.resource_id.as_deref())
                    .bind(f.outcome.map(|o| o.as_str()))
                    .bind(f.min_risk.map(i16::from))
                    .bind(flag)
                    .bind(before)
                    .bind(i64::from(f.limit) + 1)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(|r| r.into_entry(log))
                    .collect()
                })
            }

            async fn get(
                &self,
                log: &isms_domain::audit::LogId,
                id: uuid::Uuid,
            ) -> Result<isms_domain::audit::AuditEntry, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::audit_repos::scope_of(log), c => {
                    sqlx::query_as::<_, crate::audit_rows::EntryRow>(concat!(
                        "SELECT seq, canonical",
                        " FROM audit_entries WHERE log_id = $1 AND id = $2"
                    ))
                    .bind(log.to_string())
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_entry(log)
                })
            }

            async fn recent_failures(
                &self,
                log: &isms_domain::audit::LogId,
                ip: Option<&str>,
                actor: Option<isms_domain::UserId>,
                since: isms_domain::time::Timestamp,
            ) -> Result<u32, isms_domain::ports::RepoError> {
                if ip.is_none() && actor.is_none() {
                    return Ok(0);
                }
                crate::scope::scoped!(self, crate::audit_repos::scope_of(log), c => {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM audit_entries WHERE log_id = $1 AND occurred_at >= $2 \
                         AND outcome IN ('failure', 'denied') \
                         AND ((ip IS NOT NULL AND ip = $3) OR (actor_user_id IS NOT NULL AND actor_user_id = $4))",
                    )
                    .bind(log.to_string())
                    .bind(since)
                    .bind(ip)
                    .bind(actor.map(|a| a.as_uuid()))
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    Ok(u32::try_from(n).unwrap_or(u32::MAX))
                })
            }

            async fn recent_failure_times(
                &self,
                log: &isms_domain::audit::LogId,
                ip: Option<&str>,
                actor: Option<isms_domain::UserId>,
                since: isms_domain::time::Timestamp,
                limit: u32,
            ) -> Result<Vec<isms_domain::time::Timestamp>, isms_domain::ports::RepoError> {
                if (ip.is_none() && actor.is_none()) || limit == 0 {
                    return Ok(Vec::new());
                }
                crate::scope::scoped!(self, crate::audit_repos::scope_of(log), c => {
                    sqlx::query_scalar(
                        "SELECT occurred_at FROM audit_entries WHERE log_id = $1 AND occurred_at >= $2 \
                         AND outcome IN ('failure', 'denied') \
                         AND ((ip IS NOT NULL AND ip = $3) OR (actor_user_id IS NOT NULL AND actor_user_id = $4)) \
                         ORDER BY occurred_at DESC LIMIT $5",
                    )
                    .bind(log.to_string())
                    .bind(since)
                    .bind(ip)
                    .bind(actor.map(|a| a.as_uuid()))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)
                })
            }

            async fn put_checkpoint(
                &self,
                cp: &isms_domain::ports::StoredCheckpoint,
            ) -> Result<bool, isms_domain::ports::RepoError> {
                let scope = crate::audit_repos::scope_of(&cp.log_id);
                let mut tx = self.tx(scope).await?;
                let done = sqlx::query(
                    "INSERT INTO audit_checkpoints (log_id, tenant_id, tree_size, root_hash, signed_at, key_id, note) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (log_id, tree_size) DO NOTHING",
                )
                .bind(cp.log_id.to_string())
                .bind(cp.log_id.tenant_id().map(|t| t.as_uuid()))
                .bind(crate::audit_rows::to_i64(cp.checkpoint.tree_size)?)
                .bind(cp.checkpoint.root_hash.to_vec())
                .bind(cp.checkpoint.timestamp)
                .bind(&cp.key_id)
                .bind(&cp.note)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                tx.commit().await.map_err(crate::error::map)?;
                Ok(done.rows_affected() == 1)
            }

            async fn latest_checkpoint(
                &self,
                log: &isms_domain::audit::LogId,
            ) -> Result<Option<isms_domain::ports::StoredCheckpoint>, isms_domain::ports::RepoError>
            {
                crate::scope::scoped_read!(self, crate::audit_repos::scope_of(log), c => {
                    let row = sqlx::query_as::<_, crate::audit_rows::CheckpointRow>(
                        "SELECT log_id, note, key_id, tree_size, root_hash, signed_at FROM audit_checkpoints \
                         WHERE log_id = $1 ORDER BY tree_size DESC LIMIT 1",
                    )
                    .bind(log.to_string())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    row.map(|r| {
                        let origin = r.origin();
                        r.into_stored(origin)
                    })
                    .transpose()
                })
            }

            async fn checkpoints(
                &self,
                log: &isms_domain::audit::LogId,
            ) -> Result<Vec<isms_domain::ports::StoredCheckpoint>, isms_domain::ports::RepoError> {
                crate::scope::scoped_read!(self, crate::audit_repos::scope_of(log), c => {
                    sqlx::query_as::<_, crate::audit_rows::CheckpointRow>(
                        "SELECT log_id, note, key_id, tree_size, root_hash, signed_at FROM audit_checkpoints \
                         WHERE log_id = $1 ORDER BY tree_size",
                    )
                    .bind(log.to_string())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(|r| {
                        let origin = r.origin();
                        r.into_stored(origin)
                    })
                    .collect()
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::AuditKeyRepository for $store {
            async fn list(
                &self,
            ) -> Result<Vec<isms_domain::ports::AuditKeyRecord>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::audit_rows::AuditKeyRow>(
                        "SELECT key_id, key_name, public_key, wrapped_private_key, created_at, retired_at \
                         FROM audit_log_keys ORDER BY created_at DESC, key_id DESC",
                    )
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
                })
            }

            async fn insert_first(
                &self,
                key: &isms_domain::ports::AuditKeyRecord,
            ) -> Result<isms_domain::ports::AuditKeyRecord, isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Server).await?;
                // The marker's primary key decides a first-start race.
                let claimed = sqlx::query(
                    "INSERT INTO server_state (key, value, created_at) VALUES ('audit_log_key', $1, $2) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(&key.key_id)
                .bind(key.created_at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?
                .rows_affected()
                    == 1;
                if claimed {
                    sqlx::query(
                        "INSERT INTO audit_log_keys (key_id, key_name, public_key, wrapped_private_key, created_at, retired_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&key.key_id)
                    .bind(&key.key_name)
                    .bind(key.public_key.to_vec())
                    .bind(&key.wrapped_private_key)
                    .bind(key.created_at)
                    .bind(key.retired_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::error::map)?;
                }
                let row = sqlx::query_as::<_, crate::audit_rows::AuditKeyRow>(
                    "SELECT key_id, key_name, public_key, wrapped_private_key, created_at, retired_at \
                     FROM audit_log_keys WHERE retired_at IS NULL ORDER BY created_at DESC, key_id DESC LIMIT 1",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                tx.commit().await.map_err(crate::error::map)?;
                row.try_into()
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::AlertRepository for $store {
            async fn schedule_deliveries(
                &self,
                targets: &[String],
                now: isms_domain::time::Timestamp,
                limit: u32,
            ) -> Result<u32, isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Server).await?;
                let alerts: Vec<(uuid::Uuid, Option<uuid::Uuid>)> = sqlx::query_as(
                    "SELECT id, tenant_id FROM alerts WHERE scheduled_at IS NULL ORDER BY created_at, id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                for (alert, tenant) in &alerts {
                    // The conditional update claims the alert: of several
                    // instances scheduling at once, one schedules it.
                    let claimed = sqlx::query(
                        "UPDATE alerts SET scheduled_at = $2 WHERE id = $1 AND scheduled_at IS NULL",
                    )
                    .bind(alert)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::error::map)?
                    .rows_affected()
                        == 1;
                    if !claimed {
                        continue;
                    }
                    for target in targets {
                        let d = isms_domain::ports::WebhookDelivery {
                            id: uuid::Uuid::now_v7(),
                            alert_id: *alert,
                            tenant_id: tenant.map(Into::into),
                            target: target.clone(),
                            status: "pending".to_owned(),
                            attempts: 0,
                            last_status: None,
                            last_error: None,
                            next_attempt_at: now,
                            delivered_at: None,
                            created_at: now,
                        };
                        crate::audit_repos::insert_delivery!(&mut *tx, &d)?;
                    }
                }
                tx.commit().await.map_err(crate::error::map)?;
                Ok(u32::try_from(alerts.len()).unwrap_or(u32::MAX))
            }

            async fn list(
                &self,
                tenant: isms_domain::TenantId,
                unacknowledged_only: bool,
                page: isms_domain::page::PageRequest,
            ) -> Result<
                isms_domain::page::Page<isms_domain::ports::AlertRecord>,
                isms_domain::ports::RepoError,
            > {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let rows = sqlx::query_as::<_, crate::audit_rows::AlertRow>(concat!(
                        "SELECT ",
                        crate::audit_rows::alert_columns!(),
                        " FROM alerts WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) \
                          AND ($3 = FALSE OR acknowledged_at IS NULL) ORDER BY id DESC LIMIT $4"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(page.after())
                    .bind(unacknowledged_only)
                    .bind(page.fetch_limit())
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<Result<Vec<isms_domain::ports::AlertRecord>, _>>()?;
                    Ok(isms_domain::page::Page::from_overfetch(rows, &page, |a| a.id))
                })
            }

            async fn get(
                &self,
                tenant: isms_domain::TenantId,
                id: uuid::Uuid,
            ) -> Result<isms_domain::ports::AlertRecord, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    sqlx::query_as::<_, crate::audit_rows::AlertRow>(concat!(
                        "SELECT ",
                        crate::audit_rows::alert_columns!(),
                        " FROM alerts WHERE tenant_id = $1 AND id = $2"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn get_for_delivery(
                &self,
                id: uuid::Uuid,
            ) -> Result<isms_domain::ports::AlertRecord, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    sqlx::query_as::<_, crate::audit_rows::AlertRow>(concat!(
                        "SELECT ",
                        crate::audit_rows::alert_columns!(),
                        " FROM alerts WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .try_into()
                })
            }

            async fn acknowledge(
                &self,
                tenant: isms_domain::TenantId,
                id: uuid::Uuid,
                by: isms_domain::UserId,
                comment: Option<&str>,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<bool, isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Tenant(tenant)).await?;
                let done = sqlx::query(
                    "UPDATE alerts SET acknowledged_at = $3, acknowledged_by = $4, ack_comment = $5 \
                     WHERE tenant_id = $1 AND id = $2 AND acknowledged_at IS NULL",
                )
                .bind(tenant.as_uuid())
                .bind(id)
                .bind(at)
                .bind(by.as_uuid())
                .bind(comment)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?
                .rows_affected()
                    == 1;
                if !done {
                    return Ok(false);
                }
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)?;
                Ok(true)
            }

            async fn due_deliveries(
                &self,
                now: isms_domain::time::Timestamp,
                limit: u32,
            ) -> Result<Vec<isms_domain::ports::WebhookDelivery>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Server, c => {
                    Ok(sqlx::query_as::<_, crate::audit_rows::DeliveryRow>(concat!(
                        "SELECT ",
                        crate::audit_rows::delivery_columns!(),
                        " FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
                          ORDER BY next_attempt_at, id LIMIT $2"
                    ))
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
                })
            }

            async fn record_delivery(
                &self,
                d: &isms_domain::ports::WebhookDelivery,
            ) -> Result<(), isms_domain::ports::RepoError> {
                let mut tx = self.tx(crate::scope::Scope::Server).await?;
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = $2, attempts = $3, last_status = $4, \
                     last_error = $5, next_attempt_at = $6, delivered_at = $7 WHERE id = $1",
                )
                .bind(d.id)
                .bind(&d.status)
                .bind(i64::from(d.attempts))
                .bind(d.last_status.map(i64::from))
                .bind(d.last_error.as_deref())
                .bind(d.next_attempt_at)
                .bind(d.delivered_at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                tx.commit().await.map_err(crate::error::map)
            }

            async fn deliveries(
                &self,
                tenant: isms_domain::TenantId,
                alert: uuid::Uuid,
            ) -> Result<Vec<isms_domain::ports::WebhookDelivery>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    Ok(sqlx::query_as::<_, crate::audit_rows::DeliveryRow>(concat!(
                        "SELECT ",
                        crate::audit_rows::delivery_columns!(),
                        " FROM webhook_deliveries WHERE tenant_id = $1 AND alert_id = $2 ORDER BY id"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(alert)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(crate::error::map)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
                })
            }
        }

        #[async_trait::async_trait]
        impl isms_domain::ports::AuditPolicyRepository for $store {
            async fn get(
                &self,
                tenant: isms_domain::TenantId,
            ) -> Result<Option<isms_domain::audit::AuditPolicy>, isms_domain::ports::RepoError> {
                crate::scope::scoped!(self, crate::scope::Scope::Tenant(tenant), c => {
                    let text: Option<String> = sqlx::query_scalar(
                        "SELECT policy FROM tenant_audit_policies WHERE tenant_id = $1",
                    )
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(crate::error::map)?;
                    text.map(|t| {
                        serde_json::from_str(&t)
                            .map_err(|_| crate::audit_rows::corrupt("audit policy"))
                    })
                    .transpose()
                })
            }

            async fn put(
                &self,
                tenant: isms_domain::TenantId,
                policy: &isms_domain::audit::AuditPolicy,
                at: isms_domain::time::Timestamp,
                audit: &[isms_domain::audit::AuditRecord],
            ) -> Result<(), isms_domain::ports::RepoError> {
                let text = serde_json::to_string(policy)
                    .map_err(|e| isms_domain::ports::RepoError::Internal(e.to_string()))?;
                let mut tx = self.tx(crate::scope::Scope::Tenant(tenant)).await?;
                sqlx::query(
                    "INSERT INTO tenant_audit_policies (tenant_id, policy, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
                )
                .bind(tenant.as_uuid())
                .bind(text)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::map)?;
                crate::audit_append::append_audit!(tx, audit)?;
                tx.commit().await.map_err(crate::error::map)
            }
        }
    };
}

macro_rules! insert_delivery {
    ($executor:expr, $d:expr) => {{
        let d: &isms_domain::ports::WebhookDelivery = $d;
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, alert_id, tenant_id, target, status, attempts, last_status, \
             last_error, next_attempt_at, delivered_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(d.id)
        .bind(d.alert_id)
        .bind(d.tenant_id.map(|t| t.as_uuid()))
        .bind(&d.target)
        .bind(&d.status)
        .bind(i64::from(d.attempts))
        .bind(d.last_status.map(i64::from))
        .bind(d.last_error.as_deref())
        .bind(d.next_attempt_at)
        .bind(d.delivered_at)
        .bind(d.created_at)
        .execute($executor)
        .await
        .map(|_| ())
        .map_err(crate::error::map)
    }};
}

pub(crate) use impl_audit_repositories;
pub(crate) use insert_delivery;
