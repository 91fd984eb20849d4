//! A login's writes on SQLite in two round trips (see `sqlite_unit.rs`).
//!
//! The audit entry is hashed into its log's tree, so the log head must be
//! read before the entries can be written: the first script opens the
//! transaction, writes the session, its first refresh token and the login
//! stamp, and reads the heads; the second appends the audit entries and
//! commits.

use isms_domain::audit::{AuditRecord, LogId};
use isms_domain::auth::RefreshTokenRecord;
use isms_domain::ports::RepoError;
use isms_domain::session::Session;
use isms_domain::time::Timestamp;
use sqlx::Row as _;

use crate::audit_append::{
    ENTRIES_PER_STATEMENT, LogAppend, NODES_PER_STATEMENT, push_alert, push_entries,
    push_head_if_missing, push_head_update, push_nodes,
};
use crate::sqlite::SqliteStore;
use crate::sqlite_unit::{Done, Script, Unit};

pub(crate) async fn create(
    store: &SqliteStore,
    s: &Session,
    first: &RefreshTokenRecord,
    audit: &[AuditRecord],
) -> Result<(), RepoError> {
    let now = isms_domain::time::now();
    let groups = crate::audit_rows::by_log(audit);
    let mut unit = Unit::acquire(store).await?;
    let mut script = Script::begin();
    script.push(|q| crate::identity_repos::push_session!(q, s));
    script.push(|q| crate::identity_repos::push_refresh!(q, first));
    let stamp = script.push(|q| crate::identity_repos::push_login_stamp!(q, s));
    let heads = push_heads(&mut script, &groups, now);
    let done = unit.run(script).await?;
    // The account was deleted after its password was checked.
    if done.changes(stamp) == 0 {
        unit.rollback().await;
        return Err(RepoError::NotFound);
    }
    let mut script = Script::new();
    // An error here leaves the unit open: dropping it rolls back.
    push_appends(&mut script, &groups, &done, &heads, now)?;
    unit.commit(script).await.map(|_| ())
}

/// Per log, its head row (created empty if missing) read back: the
/// statement indexes of the reads.
fn push_heads(
    script: &mut Script,
    groups: &[(LogId, Vec<&AuditRecord>)],
    now: Timestamp,
) -> Vec<usize> {
    groups
        .iter()
        .map(|(log, group)| {
            let log_text = log.to_string();
            let tenant = group.first().and_then(|r| r.tenant_id).map(|t| t.as_uuid());
            script.push(|q| {
                push_head_if_missing!(q, log_text, tenant, now);
            });
            script.push(|q| {
                q.push("SELECT size, frontier FROM audit_logs WHERE log_id = ")
                    .push_bind(log_text.clone());
            })
        })
        .collect()
}

/// Per log, the entries, nodes, new head and alerts after the head that
/// statement `heads[i]` of `done` read.
fn push_appends(
    script: &mut Script,
    groups: &[(LogId, Vec<&AuditRecord>)],
    done: &Done,
    heads: &[usize],
    now: Timestamp,
) -> Result<(), RepoError> {
    for ((log, group), &read) in groups.iter().zip(heads) {
        let row = done
            .rows(read)
            .first()
            .ok_or_else(|| RepoError::Internal("audit log head missing".into()))?;
        let head: (i64, Vec<u8>) = (
            row.try_get(0).map_err(crate::error::map)?,
            row.try_get(1).map_err(crate::error::map)?,
        );
        let a = LogAppend::encode(log, group, head, now)?;
        for chunk in a.rows.chunks(ENTRIES_PER_STATEMENT) {
            script.push(|q| {
                push_entries!(q, chunk);
            });
        }
        for chunk in a.nodes.chunks(NODES_PER_STATEMENT) {
            script.push(|q| {
                push_nodes!(q, chunk, a);
            });
        }
        script.push(|q| {
            push_head_update!(q, a);
        });
        for (entry, alert) in a.alerts() {
            script.push(|q| {
                push_alert!(q, a, entry, alert);
            });
        }
    }
    Ok(())
}
