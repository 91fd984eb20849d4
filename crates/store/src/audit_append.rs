//! Appending to the audit log inside the caller's transaction. Every
//! mutating repository method takes the audit records of its change and
//! appends them with `append_audit!` before it commits, so a change is
//! never stored without its record (and a failed append rolls the change
//! back).
//!
//! Per log: lock the head row, creating it first if missing (`FOR UPDATE`
//! on PostgreSQL; SQLite transactions are `BEGIN IMMEDIATE`, so the
//! database lock is held already), assign the next sequence numbers, hash each entry
//! into the compact range kept in the head row, store the entries and the
//! perfect-subtree nodes they complete, and write the new head. Appends of
//! several instances to one log serialise on the head row and can neither
//! fork nor gap it.

/// Entries and nodes per statement: within both backends' bind limits
/// (15 and 5 parameters a row; SQLite allows 32,766, PostgreSQL 65,535).
pub(crate) const ENTRIES_PER_STATEMENT: usize = 500;
pub(crate) const NODES_PER_STATEMENT: usize = 1000;

/// `INSERT INTO audit_entries ... VALUES` for `(entry, canonical, leaf)`
/// rows whose sequence numbers are known to fit an `i64`.
macro_rules! push_entries {
    ($q:ident, $chunk:expr) => {
        $q.push(
            "INSERT INTO audit_entries (log_id, seq, id, tenant_id, occurred_at, event_type, \
             actor_user_id, resource_type, resource_id, outcome, ip, compliance_flags, risk_score, \
             canonical, leaf_hash) ",
        );
        $q.push_values($chunk, |mut b, (entry, canonical, leaf)| {
            let r = &entry.record;
            b.push_bind(entry.log_id.to_string())
                .push_bind(i64::try_from(entry.seq).unwrap_or(i64::MAX))
                .push_bind(entry.id)
                .push_bind(r.tenant_id.map(|t| t.as_uuid()))
                .push_bind(entry.timestamp)
                .push_bind(r.event_type.clone())
                .push_bind(r.actor_user_id.map(|u| u.as_uuid()))
                .push_bind(r.resource_type.clone())
                .push_bind(r.resource_id.clone())
                .push_bind(r.outcome.as_str())
                .push_bind(r.ip.clone())
                .push_bind(crate::audit_rows::flags_text(&r.compliance_flags))
                .push_bind(i16::from(r.risk_score))
                .push_bind(canonical.clone())
                .push_bind(leaf.to_vec());
        });
    };
}

/// `INSERT INTO audit_nodes ... VALUES` for `(node, hash)` pairs of the
/// log `log_text` of tenant `tenant`.
macro_rules! push_nodes {
    ($q:ident, $chunk:expr, $log_text:expr, $tenant:expr) => {
        $q.push("INSERT INTO audit_nodes (log_id, tenant_id, level, idx, hash) ");
        $q.push_values($chunk, |mut b, (node, hash)| {
            b.push_bind($log_text.clone())
                .push_bind($tenant)
                .push_bind(i16::from(node.level))
                .push_bind(i64::try_from(node.index).unwrap_or(i64::MAX))
                .push_bind(hash.to_vec());
        });
    };
}

macro_rules! append_audit {
    ($c:ident, $records:expr) => {{
        let records: &[isms_domain::audit::AuditRecord] = $records;
        let mut stored: Vec<isms_domain::audit::AuditEntry> = Vec::with_capacity(records.len());
        let now = isms_domain::time::now();
        for (log, group) in crate::audit_rows::by_log(records) {
            let log_text = log.to_string();
            let tenant = group
                .first()
                .and_then(|r| r.tenant_id)
                .map(|t| t.as_uuid());
            // The head row exists after a log's first append: lock it
            // straight away (one round trip), creating it only when missing.
            let head: Option<(i64, Vec<u8>)> = sqlx::query_as(Self::AUDIT_HEAD_FOR_UPDATE)
                .bind(&log_text)
                .fetch_optional(&mut *$c)
                .await
                .map_err(crate::error::map)?;
            let (size, frontier_bytes) = match head {
                Some(head) => head,
                None => {
                    sqlx::query(
                        "INSERT INTO audit_logs (log_id, tenant_id, size, frontier, root_hash, updated_at) \
                         VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (log_id) DO NOTHING",
                    )
                    .bind(&log_text)
                    .bind(tenant)
                    .bind(Vec::<u8>::new())
                    .bind(isms_domain::audit::empty_root().to_vec())
                    .bind(now)
                    .execute(&mut *$c)
                    .await
                    .map_err(crate::error::map)?;
                    sqlx::query_as(Self::AUDIT_HEAD_FOR_UPDATE)
                        .bind(&log_text)
                        .fetch_one(&mut *$c)
                        .await
                        .map_err(crate::error::map)?
                }
            };
            let size = crate::audit_rows::to_u64(size, "audit log size")?;
            let mut frontier = isms_domain::audit::Frontier::from_bytes(size, &frontier_bytes)
                .map_err(|_| crate::audit_rows::corrupt("audit frontier"))?;
            let mut seq = size;
            // Encode and hash everything first, then write in a few
            // multi-row statements: a batch costs round trips per 500
            // entries, not per entry.
            let mut rows = Vec::with_capacity(group.len());
            let mut nodes = Vec::with_capacity(group.len() * 2);
            for record in group {
                let entry = isms_domain::audit::AuditEntry {
                    log_id: log.clone(),
                    seq,
                    id: uuid::Uuid::now_v7(),
                    timestamp: now,
                    record: record.clone(),
                };
                let canonical = entry.canonical_bytes().map_err(|e| {
                    isms_domain::ports::RepoError::Internal(format!("audit entry encoding: {e}"))
                })?;
                let leaf = isms_domain::audit::leaf_hash(&canonical);
                let canonical = String::from_utf8(canonical).map_err(|_| {
                    isms_domain::ports::RepoError::Internal("audit entry is not UTF-8".into())
                })?;
                nodes.extend(frontier.append(leaf));
                rows.push((entry, canonical, leaf));
                seq += 1;
            }
            // Every entry's number fits, so each bind below converts.
            let new_size = crate::audit_rows::to_i64(seq)?;
            // Entries, nodes and the new head in one statement (see
            // `chain.rs`): one round trip for a request's append. Batches
            // beyond one statement's worth write their earlier chunks
            // first.
            let mut entry_chunks: Vec<_> =
                rows.chunks(crate::audit_append::ENTRIES_PER_STATEMENT).collect();
            let mut node_chunks: Vec<_> =
                nodes.chunks(crate::audit_append::NODES_PER_STATEMENT).collect();
            let last_entries = entry_chunks.pop();
            let last_nodes = node_chunks.pop();
            for chunk in entry_chunks {
                let mut q = sqlx::QueryBuilder::new("");
                crate::audit_append::push_entries!(q, chunk);
                q.build().execute(&mut *$c).await.map_err(crate::error::map)?;
            }
            for chunk in node_chunks {
                let mut q = sqlx::QueryBuilder::new("");
                crate::audit_append::push_nodes!(q, chunk, log_text, tenant);
                q.build().execute(&mut *$c).await.map_err(crate::error::map)?;
            }
            let parts =
                1 + usize::from(last_entries.is_some()) + usize::from(last_nodes.is_some());
            let mut q = sqlx::QueryBuilder::new("");
            let mut part = 0;
            if let Some(chunk) = last_entries {
                Self::CHAIN.push(&mut q, part, parts, |q| {
                    crate::audit_append::push_entries!(q, chunk);
                });
                part += 1;
            }
            if let Some(chunk) = last_nodes {
                Self::CHAIN.push(&mut q, part, parts, |q| {
                    crate::audit_append::push_nodes!(q, chunk, log_text, tenant);
                });
                part += 1;
            }
            Self::CHAIN.push(&mut q, part, parts, |q| {
                q.push("UPDATE audit_logs SET size = ")
                    .push_bind(new_size)
                    .push(", frontier = ")
                    .push_bind(frontier.to_bytes())
                    .push(", root_hash = ")
                    .push_bind(frontier.root().to_vec())
                    .push(", updated_at = ")
                    .push_bind(now)
                    .push(" WHERE log_id = ")
                    .push_bind(log_text.clone());
            });
            q.build().execute(&mut *$c).await.map_err(crate::error::map)?;
            for (entry, _, _) in &rows {
                let record = &entry.record;
                if let Some(alert) = isms_domain::audit::alert_for(
                    &record.event_type,
                    record.risk_score,
                    &record.compliance_flags,
                ) {
                    // Raised in the entry's transaction: an alert exists
                    // exactly when its entry does.
                    sqlx::query(
                        "INSERT INTO alerts (id, tenant_id, log_id, entry_seq, entry_id, severity, event_type, \
                         risk_score, description, required_actions, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(uuid::Uuid::now_v7())
                    .bind(record.tenant_id.map(|t| t.as_uuid()))
                    .bind(&log_text)
                    .bind(crate::audit_rows::to_i64(entry.seq)?)
                    .bind(entry.id)
                    .bind(alert.severity.as_str())
                    .bind(&record.event_type)
                    .bind(i16::from(record.risk_score))
                    .bind(&alert.description)
                    .bind(serde_json::Value::from(alert.required_actions.clone()).to_string())
                    .bind(now)
                    .execute(&mut *$c)
                    .await
                    .map_err(crate::error::map)?;
                }
            }
            stored.extend(rows.into_iter().map(|(entry, _, _)| entry));
        }
        Ok::<Vec<isms_domain::audit::AuditEntry>, isms_domain::ports::RepoError>(stored)
    }};
}

pub(crate) use append_audit;
pub(crate) use push_entries;
pub(crate) use push_nodes;
