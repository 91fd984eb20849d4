//! The verifier's pure part, shared by `POST /audit/verify`, the CLI on the
//! database and the offline verifier of an export: entries are pushed in
//! order, checkpoints at their sizes, and the first failure is kept.

use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::entry::{AuditEntry, LogId};

/// An entry as stored: its position, its canonical bytes, the leaf hash
/// written beside them and, from a database, the columns queries filter
/// on (copies of canonical fields, which must agree with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub seq: u64,
    pub canonical: Vec<u8>,
    pub leaf_hash: Hash,
    pub indexed: Option<IndexedColumns>,
}

/// The filter columns of a stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedColumns {
    pub id: uuid::Uuid,
    pub tenant_id: Option<uuid::Uuid>,
    pub occurred_at: crate::time::Timestamp,
    pub event_type: String,
    pub actor_user_id: Option<uuid::Uuid>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub compliance_flags: Vec<String>,
    pub risk_score: i64,
}

/// The canonical fields the filter columns copy, read without copying.
#[derive(serde::Deserialize)]
struct Copied<'a> {
    #[serde(borrow)]
    actor_user_id: Option<&'a str>,
    #[serde(borrow)]
    compliance_flags: Vec<&'a str>,
    #[serde(borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    id: &'a str,
    #[serde(borrow)]
    ip: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    outcome: &'a str,
    #[serde(borrow)]
    resource_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    resource_type: Option<std::borrow::Cow<'a, str>>,
    risk_score: i64,
    #[serde(borrow)]
    tenant_id: Option<&'a str>,
    #[serde(borrow)]
    timestamp: &'a str,
}

/// The first filter column that disagrees with the canonical bytes.
fn disagreement(canonical: &[u8], cols: &IndexedColumns) -> Option<&'static str> {
    let Ok(c) = serde_json::from_slice::<Copied<'_>>(canonical) else {
        return Some("canonical");
    };
    let uuid_eq = |text: Option<&str>, col: Option<uuid::Uuid>| {
        text.map(uuid::Uuid::parse_str).transpose().ok() == Some(col)
    };
    let time = chrono::DateTime::parse_from_rfc3339(c.timestamp)
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok();
    let mut flags: Vec<&str> = cols.compliance_flags.iter().map(String::as_str).collect();
    flags.sort_unstable();
    flags.dedup();
    [
        ("id", uuid_eq(Some(c.id), Some(cols.id))),
        ("tenant_id", uuid_eq(c.tenant_id, cols.tenant_id)),
        ("occurred_at", time == Some(cols.occurred_at)),
        ("event_type", c.event_type == cols.event_type),
        (
            "actor_user_id",
            uuid_eq(c.actor_user_id, cols.actor_user_id),
        ),
        (
            "resource_type",
            c.resource_type.as_deref() == cols.resource_type.as_deref(),
        ),
        (
            "resource_id",
            c.resource_id.as_deref() == cols.resource_id.as_deref(),
        ),
        ("outcome", c.outcome == cols.outcome),
        ("ip", c.ip.as_deref() == cols.ip.as_deref()),
        ("compliance_flags", c.compliance_flags == flags),
        ("risk_score", c.risk_score == cols.risk_score),
    ]
    .into_iter()
    .find(|(_, ok)| !ok)
    .map(|(name, _)| name)
}

use super::merkle::{Frontier, Hash, leaf_hash};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The entry's content no longer hashes to its stored leaf hash.
    EntryModified,
    /// A sequence number is missing (deleted entry, or a checkpoint covers
    /// entries that are not there).
    EntryMissing,
    /// Entries are out of order or duplicated.
    EntryReordered,
    /// A checkpoint's root is not the root of the entries it covers.
    CheckpointMismatch,
    /// A checkpoint's signature does not verify under the log key.
    CheckpointSignature,
    /// An entry cannot be encoded (corrupt stored values).
    EntryUnreadable,
    /// Entries beyond the last signed checkpoint: nothing vouches for them
    /// (an offline verification needs a checkpoint covering everything).
    EntriesUnsigned,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EntryModified => "entry_modified",
            Self::EntryMissing => "entry_missing",
            Self::EntryReordered => "entry_reordered",
            Self::CheckpointMismatch => "checkpoint_mismatch",
            Self::CheckpointSignature => "checkpoint_signature",
            Self::EntryUnreadable => "entry_unreadable",
            Self::EntriesUnsigned => "entries_unsigned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyFailure {
    /// The first bad sequence number, when one is to blame.
    pub seq: Option<u64>,
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    #[serde(serialize_with = "as_display")]
    pub log_id: LogId,
    /// Entries hashed before the first failure (all of them when none).
    pub entries: u64,
    pub checkpoints_checked: u64,
    /// Base64 root over the verified entries.
    #[serde(serialize_with = "as_base64")]
    pub root_hash: Hash,
    pub first_failure: Option<VerifyFailure>,
}

fn as_display<S: serde::Serializer>(v: &LogId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn as_base64<S: serde::Serializer>(v: &Hash, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
}

pub struct LogVerifier {
    log_id: LogId,
    tree: Frontier,
    checkpoints: u64,
    /// The largest size a verified checkpoint vouches for.
    covered: u64,
    log_text: String,
    failure: Option<VerifyFailure>,
}

impl LogVerifier {
    pub fn new(log_id: LogId) -> Self {
        Self {
            log_text: log_id.to_string(),
            log_id,
            tree: Frontier::empty(),
            checkpoints: 0,
            covered: 0,
            failure: None,
        }
    }

    fn fail(
        &mut self,
        seq: Option<u64>,
        kind: FailureKind,
        message: String,
    ) -> Result<(), VerifyFailure> {
        let f = VerifyFailure { seq, kind, message };
        if self.failure.is_none() {
            self.failure = Some(f.clone());
        }
        Err(f)
    }

    /// Checks the next stored entry: its position, that its bytes hash to
    /// the leaf stored beside it, and that they are a canonical entry that
    /// names this log and this position.
    pub fn push(&mut self, raw: &RawEntry) -> Result<(), VerifyFailure> {
        if let Some(f) = &self.failure {
            return Err(f.clone());
        }
        let seq = raw.seq;
        let expected = self.tree.size();
        if seq > expected {
            return self.fail(
                Some(expected),
                FailureKind::EntryMissing,
                format!("entry {expected} is missing (next present is {seq})"),
            );
        }
        if seq < expected {
            return self.fail(
                Some(seq),
                FailureKind::EntryReordered,
                format!("entry {seq} appears again after entry {}", expected - 1),
            );
        }
        let leaf = leaf_hash(&raw.canonical);
        if leaf != raw.leaf_hash {
            return self.fail(
                Some(seq),
                FailureKind::EntryModified,
                format!("entry {seq} was modified after it was written"),
            );
        }
        match AuditEntry::position_of(&raw.canonical) {
            None => {
                return self.fail(
                    Some(seq),
                    FailureKind::EntryModified,
                    format!("entry {seq} is not a canonical entry"),
                );
            }
            Some((l, s)) if s != seq || l != self.log_text => {
                return self.fail(
                    Some(seq),
                    FailureKind::EntryReordered,
                    format!("the entry stored at {seq} was written as entry {s} of {l}"),
                );
            }
            Some(_) => {}
        }
        if let Some(column) = raw
            .indexed
            .as_ref()
            .and_then(|c| disagreement(&raw.canonical, c))
        {
            return self.fail(
                Some(seq),
                FailureKind::EntryModified,
                format!("entry {seq}'s {column} column was modified after it was written"),
            );
        }
        self.tree.push(leaf);
        Ok(())
    }

    /// Checks a checkpoint whose size is at most the entries pushed so far
    /// (a larger one means entries are missing). `note_ok` says whether its
    /// signature verified.
    pub fn check_checkpoint(&mut self, cp: &Checkpoint, note_ok: bool) {
        if self.failure.is_some() {
            return;
        }
        self.checkpoints += 1;
        if !note_ok {
            let _ = self.fail(
                None,
                FailureKind::CheckpointSignature,
                format!(
                    "the checkpoint of size {} is not signed by the log key",
                    cp.tree_size
                ),
            );
            return;
        }
        let size = self.tree.size();
        if cp.tree_size > size {
            let _ = self.fail(
                Some(size),
                FailureKind::EntryMissing,
                format!(
                    "a checkpoint covers {} entries but entry {size} is missing",
                    cp.tree_size
                ),
            );
            return;
        }
        if cp.tree_size < size {
            // The caller hands checkpoints over in size order as the
            // entries pass; an earlier one arriving late is a caller bug.
            let _ = self.fail(
                None,
                FailureKind::CheckpointMismatch,
                format!(
                    "checkpoint of size {} checked after {size} entries",
                    cp.tree_size
                ),
            );
            return;
        }
        if self.tree.root() != cp.root_hash {
            let _ = self.fail(
                cp.tree_size.checked_sub(1),
                FailureKind::CheckpointMismatch,
                format!(
                    "the entries do not hash to the root signed at size {}",
                    cp.tree_size
                ),
            );
            return;
        }
        self.covered = self.covered.max(cp.tree_size);
    }

    /// `finish`, but entries no verified checkpoint covers are a failure:
    /// for a copy of the log whose only trust anchor is the signatures.
    pub fn finish_signed(mut self) -> VerifyReport {
        let size = self.tree.size();
        if self.failure.is_none() && self.covered < size {
            let _ = self.fail(
                Some(self.covered),
                FailureKind::EntriesUnsigned,
                format!(
                    "entries {}..{} are covered by no checkpoint signed with the given key",
                    self.covered,
                    size - 1
                ),
            );
        }
        self.finish()
    }

    pub fn finish(self) -> VerifyReport {
        VerifyReport {
            log_id: self.log_id,
            entries: self.tree.size(),
            checkpoints_checked: self.checkpoints,
            root_hash: self.tree.root(),
            first_failure: self.failure,
        }
    }
}
