//! Row types of the audit log and alerts, and the pieces of an append that
//! are the same on both backends.

use chrono::{DateTime, Utc};
use isms_domain::audit::{AuditEntry, AuditRecord, ComplianceFlag, Hash, LogId, RawEntry};
use isms_domain::ports::{AlertRecord, RepoError, StoredCheckpoint, WebhookDelivery};
use uuid::Uuid;

pub(crate) fn corrupt(what: &str) -> RepoError {
    RepoError::Internal(format!("stored {what} is invalid"))
}

pub(crate) fn hash_of(bytes: &[u8], what: &str) -> Result<Hash, RepoError> {
    Hash::try_from(bytes).map_err(|_| corrupt(what))
}

pub(crate) fn to_i64(n: u64) -> Result<i64, RepoError> {
    i64::try_from(n).map_err(|_| RepoError::Internal("sequence number out of range".into()))
}

pub(crate) fn to_u64(n: i64, what: &str) -> Result<u64, RepoError> {
    u64::try_from(n).map_err(|_| corrupt(what))
}

/// Records grouped by the log they go to, logs in a fixed order (so two
/// transactions touching the same logs lock their heads in the same order
/// and cannot deadlock), records in their given order within a log.
pub(crate) fn by_log(records: &[AuditRecord]) -> Vec<(LogId, Vec<&AuditRecord>)> {
    let mut groups: std::collections::BTreeMap<String, (LogId, Vec<&AuditRecord>)> =
        std::collections::BTreeMap::new();
    for r in records {
        let log = log_of(r.tenant_id);
        groups
            .entry(log.to_string())
            .or_insert_with(|| (log, Vec::new()))
            .1
            .push(r);
    }
    groups.into_values().collect()
}

/// A tenant's events go to its own log, the rest to the server log.
pub(crate) fn log_of(tenant: Option<isms_domain::TenantId>) -> LogId {
    tenant.map_or_else(LogId::server, LogId::tenant)
}

fn severity(s: &str) -> Option<isms_domain::audit::AlertSeverity> {
    use isms_domain::audit::AlertSeverity as S;
    [S::Critical, S::High].into_iter().find(|v| v.as_str() == s)
}

/// The flags column: sorted and without duplicates, as the canonical
/// encoding writes them (the verifier compares the two).
pub(crate) fn flags_text(flags: &[ComplianceFlag]) -> String {
    let mut names: Vec<&str> = flags.iter().map(|f| f.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned())
}

/// An entry as queries read it: the bytes its leaf hash covers.
#[derive(sqlx::FromRow)]
pub(crate) struct EntryRow {
    seq: i64,
    canonical: String,
}

/// The columns the verifier reads, in the order `scan` decodes them.
macro_rules! entry_columns {
    () => {
        "seq, canonical, leaf_hash, id, tenant_id, occurred_at, event_type, actor_user_id, resource_type, \
         resource_id, outcome, ip, compliance_flags, CAST(risk_score AS BIGINT) AS risk_score"
    };
}
pub(crate) use entry_columns;

impl EntryRow {
    /// The entry, decoded from the bytes its leaf hash covers. A row that
    /// does not decode, or names another position, is corrupt (and
    /// `isms audit verify` will say where).
    pub(crate) fn into_entry(self, log: &LogId) -> Result<AuditEntry, RepoError> {
        let seq = to_u64(self.seq, "audit seq")?;
        let entry = AuditEntry::from_canonical(self.canonical.as_bytes())
            .map_err(|_| corrupt("audit entry"))?;
        if entry.seq != seq || entry.log_id != *log {
            return Err(corrupt("audit entry position"));
        }
        Ok(entry)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct HeadRow {
    pub(crate) log_id: String,
    pub(crate) size: i64,
    pub(crate) root_hash: Vec<u8>,
}

impl TryFrom<HeadRow> for isms_domain::ports::AuditHead {
    type Error = RepoError;
    fn try_from(r: HeadRow) -> Result<Self, RepoError> {
        Ok(Self {
            log_id: LogId::parse(&r.log_id).map_err(|_| corrupt("audit log id"))?,
            size: to_u64(r.size, "audit log size")?,
            root_hash: hash_of(&r.root_hash, "audit root")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    log_id: String,
    note: String,
    key_id: String,
    tree_size: i64,
    root_hash: Vec<u8>,
    signed_at: DateTime<Utc>,
}

impl CheckpointRow {
    pub(crate) fn into_stored(self, origin: String) -> Result<StoredCheckpoint, RepoError> {
        Ok(StoredCheckpoint {
            log_id: LogId::parse(&self.log_id).map_err(|_| corrupt("audit log id"))?,
            checkpoint: isms_domain::audit::Checkpoint {
                origin,
                tree_size: to_u64(self.tree_size, "checkpoint size")?,
                root_hash: hash_of(&self.root_hash, "checkpoint root")?,
                timestamp: self.signed_at,
            },
            key_id: self.key_id,
            note: self.note,
        })
    }

    /// The origin line is the note's first line.
    pub(crate) fn origin(&self) -> String {
        self.note.lines().next().unwrap_or_default().to_owned()
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditKeyRow {
    key_id: String,
    key_name: String,
    public_key: Vec<u8>,
    wrapped_private_key: Vec<u8>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

impl TryFrom<AuditKeyRow> for isms_domain::ports::AuditKeyRecord {
    type Error = RepoError;
    fn try_from(r: AuditKeyRow) -> Result<Self, RepoError> {
        Ok(Self {
            key_id: r.key_id,
            key_name: r.key_name,
            public_key: <[u8; 32]>::try_from(r.public_key.as_slice())
                .map_err(|_| corrupt("audit public key"))?,
            wrapped_private_key: r.wrapped_private_key,
            created_at: r.created_at,
            retired_at: r.retired_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    id: Uuid,
    tenant_id: Option<Uuid>,
    log_id: String,
    entry_seq: i64,
    entry_id: Uuid,
    severity: String,
    event_type: String,
    risk_score: i64,
    description: String,
    required_actions: String,
    created_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<Uuid>,
    ack_comment: Option<String>,
}

macro_rules! alert_columns {
    () => {
        "id, tenant_id, log_id, entry_seq, entry_id, severity, event_type, \
         CAST(risk_score AS BIGINT) AS risk_score, description, required_actions, created_at, \
         acknowledged_at, acknowledged_by, ack_comment"
    };
}
pub(crate) use alert_columns;

impl TryFrom<AlertRow> for AlertRecord {
    type Error = RepoError;
    fn try_from(r: AlertRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: r.id,
            tenant_id: r.tenant_id.map(Into::into),
            log_id: LogId::parse(&r.log_id).map_err(|_| corrupt("alert log id"))?,
            entry_seq: to_u64(r.entry_seq, "alert seq")?,
            entry_id: r.entry_id,
            severity: severity(&r.severity).ok_or_else(|| corrupt("alert severity"))?,
            event_type: r.event_type,
            risk_score: u8::try_from(r.risk_score).map_err(|_| corrupt("alert risk"))?,
            description: r.description,
            required_actions: serde_json::from_str(&r.required_actions)
                .map_err(|_| corrupt("alert actions"))?,
            created_at: r.created_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by.map(Into::into),
            ack_comment: r.ack_comment,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    id: Uuid,
    alert_id: Uuid,
    tenant_id: Option<Uuid>,
    target: String,
    status: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

macro_rules! delivery_columns {
    () => {
        "id, alert_id, tenant_id, target, status, CAST(attempts AS BIGINT) AS attempts, \
         CAST(last_status AS BIGINT) AS last_status, last_error, next_attempt_at, delivered_at, created_at"
    };
}
pub(crate) use delivery_columns;

impl From<DeliveryRow> for WebhookDelivery {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id,
            alert_id: r.alert_id,
            tenant_id: r.tenant_id.map(Into::into),
            target: r.target,
            status: r.status,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            delivered_at: r.delivered_at,
            created_at: r.created_at,
        }
    }
}

/// The filter columns as `SqliteStore::AUDIT_SCAN_AS_TEXT` writes them.
#[derive(serde::Deserialize)]
struct TextColumns(
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    i64,
);

fn uuid_hex(s: &str, what: &str) -> Result<Option<Uuid>, RepoError> {
    if s.is_empty() {
        return Ok(None);
    }
    Uuid::try_parse(s).map(Some).map_err(|_| corrupt(what))
}

/// Decodes a batch written by `group_concat` (see
/// `SqliteStore::AUDIT_SCAN_AS_TEXT`; `None`: no rows): two lines per
/// entry, `<seq> <leaf hex> <canonical>` and the filter columns as JSON.
pub(crate) fn entries_from_text(text: Option<&str>) -> Result<Vec<RawEntry>, RepoError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let mut lines = text.split('\n');
    let mut rows = Vec::new();
    while let Some(line) = lines.next() {
        let columns = lines.next().ok_or_else(|| corrupt("audit batch"))?;
        let mut parts = line.splitn(3, ' ');
        let (Some(seq), Some(leaf), Some(canonical)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt("audit batch"));
        };
        let c: TextColumns = serde_json::from_str(columns).map_err(|_| corrupt("audit batch"))?;
        rows.push(RawEntry {
            seq: seq.parse().map_err(|_| corrupt("audit seq"))?,
            canonical: canonical.as_bytes().to_vec(),
            leaf_hash: hash_hex(leaf)?,
            indexed: Some(isms_domain::audit::IndexedColumns {
                id: uuid_hex(&c.0, "audit id")?.ok_or_else(|| corrupt("audit id"))?,
                tenant_id: uuid_hex(&c.1, "audit tenant")?,
                occurred_at: chrono::DateTime::parse_from_rfc3339(&c.2)
                    .map_err(|_| corrupt("audit timestamp"))?
                    .with_timezone(&Utc),
                event_type: c.3,
                actor_user_id: uuid_hex(&c.4, "audit actor")?,
                resource_type: c.5,
                resource_id: c.6,
                outcome: c.7,
                ip: c.8,
                compliance_flags: c.9,
                risk_score: c.10,
            }),
        });
    }
    // SQLite aggregates in the order the ordered subquery yields rows;
    // sorting again here costs nothing when it did and keeps the result
    // right if it did not.
    rows.sort_by_key(|r| r.seq);
    Ok(rows)
}

fn hash_hex(s: &str) -> Result<Hash, RepoError> {
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let s = s.as_bytes();
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return Err(corrupt("leaf hash"));
    }
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *o = hi << 4 | lo,
            _ => return Err(corrupt("leaf hash")),
        }
    }
    Ok(out)
}
