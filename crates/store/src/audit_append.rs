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
//!
//! `LogAppend` is the part that needs no database: it turns a log's
//! records and its head into the rows to store. The `push_*` macros write
//! those rows' statements into a query builder, for `append_audit!` here
//! and for the SQLite login's scripts (`sqlite_session.rs`).

use isms_domain::audit::{
    AlertDraft, AuditEntry, AuditRecord, Frontier, Hash, LogId, NodeId, alert_for, leaf_hash,
};
use isms_domain::ports::RepoError;
use isms_domain::time::Timestamp;

use crate::audit_rows::{corrupt, to_i64, to_u64};

/// Entries and nodes per statement: within both backends' bind limits
/// (15 and 5 parameters a row; SQLite allows 32,766, PostgreSQL 65,535).
pub(crate) const ENTRIES_PER_STATEMENT: usize = 500;
pub(crate) const NODES_PER_STATEMENT: usize = 1000;

/// One log's share of an append, encoded and hashed: the entries (with
/// their canonical text and leaf hash), the tree nodes they complete and
/// the new head.
pub(crate) struct LogAppend {
    pub(crate) log_text: String,
    pub(crate) tenant: Option<uuid::Uuid>,
    pub(crate) rows: Vec<(AuditEntry, String, Hash)>,
    pub(crate) nodes: Vec<(NodeId, Hash)>,
    pub(crate) new_size: i64,
    pub(crate) frontier: Frontier,
    pub(crate) now: Timestamp,
}

impl LogAppend {
    /// The entries of `group`, records of `log`, appended to a head of
    /// `(size, frontier bytes)` as read from `audit_logs`.
    pub(crate) fn encode(
        log: &LogId,
        group: &[&AuditRecord],
        head: (i64, Vec<u8>),
        now: Timestamp,
    ) -> Result<Self, RepoError> {
        let (size, frontier_bytes) = head;
        let size = to_u64(size, "audit log size")?;
        // Checked up front, so every sequence number and node index of the
        // batch fits the `i64` it is bound as.
        let added = u64::try_from(group.len())
            .map_err(|_| RepoError::Internal("audit batch too large".into()))?;
        let new_size = size
            .checked_add(added)
            .ok_or_else(|| RepoError::Internal("sequence number out of range".into()))
            .and_then(to_i64)?;
        let mut frontier =
            Frontier::from_bytes(size, &frontier_bytes).map_err(|_| corrupt("audit frontier"))?;
        let mut rows = Vec::with_capacity(group.len());
        let mut nodes = Vec::with_capacity(group.len() * 2);
        for (seq, record) in (size..).zip(group) {
            let entry = AuditEntry {
                log_id: log.clone(),
                seq,
                id: uuid::Uuid::now_v7(),
                timestamp: now,
                record: (*record).clone(),
            };
            let canonical = entry
                .canonical_bytes()
                .map_err(|e| RepoError::Internal(format!("audit entry encoding: {e}")))?;
            let leaf = leaf_hash(&canonical);
            let canonical = String::from_utf8(canonical)
                .map_err(|_| RepoError::Internal("audit entry is not UTF-8".into()))?;
            nodes.extend(frontier.append(leaf));
            rows.push((entry, canonical, leaf));
        }
        Ok(Self {
            log_text: log.to_string(),
            tenant: group.first().and_then(|r| r.tenant_id).map(|t| t.as_uuid()),
            rows,
            nodes,
            new_size,
            frontier,
            now,
        })
    }

    /// The alerts the entries raise, each stored in the entry's
    /// transaction: an alert exists exactly when its entry does.
    pub(crate) fn alerts(&self) -> Vec<(&AuditEntry, AlertDraft)> {
        self.rows
            .iter()
            .filter_map(|(entry, _, _)| {
                let r = &entry.record;
                alert_for(&r.event_type, r.risk_score, &r.compliance_flags).map(|a| (entry, a))
            })
            .collect()
    }

    pub(crate) fn into_entries(self) -> impl Iterator<Item = AuditEntry> {
        self.rows.into_iter().map(|(entry, _, _)| entry)
    }
}

/// `INSERT INTO audit_entries ... VALUES` for `(entry, canonical, leaf)`
/// rows of a `LogAppend` (whose numbers are checked to fit an `i64`).
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
/// `LogAppend` `a`.
macro_rules! push_nodes {
    ($q:ident, $chunk:expr, $a:expr) => {
        $q.push("INSERT INTO audit_nodes (log_id, tenant_id, level, idx, hash) ");
        $q.push_values($chunk, |mut b, (node, hash)| {
            b.push_bind($a.log_text.clone())
                .push_bind($a.tenant)
                .push_bind(i16::from(node.level))
                .push_bind(i64::try_from(node.index).unwrap_or(i64::MAX))
                .push_bind(hash.to_vec());
        });
    };
}

/// The empty head row of log `log_text` unless it exists.
macro_rules! push_head_if_missing {
    ($q:ident, $log_text:expr, $tenant:expr, $now:expr) => {
        $q.push(
            "INSERT INTO audit_logs (log_id, tenant_id, size, frontier, root_hash, updated_at) VALUES (",
        )
        .push_bind($log_text.clone())
        .push(", ")
        .push_bind($tenant)
        .push(", 0, ")
        .push_bind(Vec::<u8>::new())
        .push(", ")
        .push_bind(isms_domain::audit::empty_root().to_vec())
        .push(", ")
        .push_bind($now)
        .push(") ON CONFLICT (log_id) DO NOTHING");
    };
}

/// The head row after the `LogAppend` `a`.
macro_rules! push_head_update {
    ($q:ident, $a:expr) => {
        $q.push("UPDATE audit_logs SET size = ")
            .push_bind($a.new_size)
            .push(", frontier = ")
            .push_bind($a.frontier.to_bytes())
            .push(", root_hash = ")
            .push_bind($a.frontier.root().to_vec())
            .push(", updated_at = ")
            .push_bind($a.now)
            .push(" WHERE log_id = ")
            .push_bind($a.log_text.clone());
    };
}

/// The alert `alert` raised by `entry` of the `LogAppend` `a`.
macro_rules! push_alert {
    ($q:ident, $a:expr, $entry:expr, $alert:expr) => {
        let (entry, alert) = ($entry, $alert);
        $q.push(
            "INSERT INTO alerts (id, tenant_id, log_id, entry_seq, entry_id, severity, event_type, \
             risk_score, description, required_actions, created_at) ",
        );
        $q.push_values([(entry, alert)], |mut b, (entry, alert)| {
            let r = &entry.record;
            b.push_bind(uuid::Uuid::now_v7())
                .push_bind(r.tenant_id.map(|t| t.as_uuid()))
                .push_bind($a.log_text.clone())
                .push_bind(i64::try_from(entry.seq).unwrap_or(i64::MAX))
                .push_bind(entry.id)
                .push_bind(alert.severity.as_str())
                .push_bind(r.event_type.clone())
                .push_bind(i16::from(r.risk_score))
                .push_bind(alert.description.clone())
                .push_bind(serde_json::Value::from(alert.required_actions.clone()).to_string())
                .push_bind($a.now);
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
            let tenant = group.first().and_then(|r| r.tenant_id).map(|t| t.as_uuid());
            // The head row exists after a log's first append: lock it
            // straight away (one round trip), creating it only when missing.
            let head: Option<(i64, Vec<u8>)> = sqlx::query_as(Self::AUDIT_HEAD_FOR_UPDATE)
                .bind(&log_text)
                .fetch_optional(&mut *$c)
                .await
                .map_err(crate::error::map)?;
            let head = match head {
                Some(head) => head,
                None => {
                    let mut q = sqlx::QueryBuilder::new("");
                    crate::audit_append::push_head_if_missing!(q, log_text, tenant, now);
                    q.build()
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
            // Encode and hash everything first, then write in a few
            // multi-row statements: a batch costs round trips per 500
            // entries, not per entry.
            let a = crate::audit_append::LogAppend::encode(&log, &group, head, now)?;
            // Entries, nodes and the new head in one statement (see
            // `chain.rs`): one round trip for a request's append. Batches
            // beyond one statement's worth write their earlier chunks
            // first.
            let mut entry_chunks: Vec<_> = a
                .rows
                .chunks(crate::audit_append::ENTRIES_PER_STATEMENT)
                .collect();
            let mut node_chunks: Vec<_> = a
                .nodes
                .chunks(crate::audit_append::NODES_PER_STATEMENT)
                .collect();
            let last_entries = entry_chunks.pop();
            let last_nodes = node_chunks.pop();
            for chunk in entry_chunks {
                let mut q = sqlx::QueryBuilder::new("");
                crate::audit_append::push_entries!(q, chunk);
                q.build()
                    .execute(&mut *$c)
                    .await
                    .map_err(crate::error::map)?;
            }
            for chunk in node_chunks {
                let mut q = sqlx::QueryBuilder::new("");
                crate::audit_append::push_nodes!(q, chunk, a);
                q.build()
                    .execute(&mut *$c)
                    .await
                    .map_err(crate::error::map)?;
            }
            let parts = 1 + usize::from(last_entries.is_some()) + usize::from(last_nodes.is_some());
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
                    crate::audit_append::push_nodes!(q, chunk, a);
                });
                part += 1;
            }
            Self::CHAIN.push(&mut q, part, parts, |q| {
                crate::audit_append::push_head_update!(q, a);
            });
            q.build()
                .execute(&mut *$c)
                .await
                .map_err(crate::error::map)?;
            for (entry, alert) in a.alerts() {
                let mut q = sqlx::QueryBuilder::new("");
                crate::audit_append::push_alert!(q, a, entry, alert);
                q.build()
                    .execute(&mut *$c)
                    .await
                    .map_err(crate::error::map)?;
            }
            stored.extend(a.into_entries());
        }
        Ok::<Vec<isms_domain::audit::AuditEntry>, isms_domain::ports::RepoError>(stored)
    }};
}

pub(crate) use append_audit;
pub(crate) use push_alert;
pub(crate) use push_entries;
pub(crate) use push_head_if_missing;
pub(crate) use push_head_update;
pub(crate) use push_nodes;
