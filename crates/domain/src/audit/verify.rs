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
    /// The column's text: a JSON array of the flag names, sorted and
    /// unique (the entry's own encoding of them).
    pub compliance_flags: String,
    pub risk_score: i64,
}

/// The canonical bytes of an entry, walked field by field in their fixed
/// (sorted) key order: enough of a JSON lexer to step over the values the
/// filter columns do not copy.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    /// Consumes `lit` when the bytes continue with it.
    fn literal(&mut self, lit: &[u8]) -> bool {
        let ok = self.bytes[self.at..].starts_with(lit);
        if ok {
            self.at += lit.len();
        }
        ok
    }

    /// Steps over one JSON string (the cursor on its opening quote).
    fn string(&mut self) -> bool {
        if self.bytes.get(self.at) != Some(&b'"') {
            return false;
        }
        let mut i = self.at + 1;
        while let Some(&b) = self.bytes.get(i) {
            match b {
                b'"' => {
                    self.at = i + 1;
                    return true;
                }
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        false
    }

    /// Steps over one JSON value: a string, an object or array (nesting
    /// and strings inside it followed), or a scalar up to the next `,`,
    /// `]` or `}`.
    fn value(&mut self) -> bool {
        match self.bytes.get(self.at) {
            Some(b'"') => self.string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(&b) = self.bytes.get(self.at) {
                    match b {
                        b'"' => {
                            if !self.string() {
                                return false;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
                false
            }
            Some(_) => {
                let rest = &self.bytes[self.at..];
                let n = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}'))
                    .unwrap_or(rest.len());
                self.at += n;
                n > 0
            }
            None => false,
        }
    }
}

/// A filter column: its name and how it encodes its value.
type Column<'a> = Option<(&'static str, &'a dyn Fn(&mut Vec<u8>))>;

/// The first filter column that disagrees with the canonical bytes
/// (`"canonical"` when they are not a canonical entry). Each column is
/// encoded the way the entry encodes its field and compared with the bytes
/// at that field's place: no parsing into values, no allocation beyond
/// `scratch`, which the caller reuses.
fn disagreement(
    canonical: &[u8],
    cols: &IndexedColumns,
    scratch: &mut Vec<u8>,
) -> Option<&'static str> {
    use super::entry::{write_opt, write_timestamp, write_u64, write_uuid};
    use crate::canonical_json::write_str;

    let mut w = Walk {
        bytes: canonical,
        at: 0,
    };
    // Steps over the key and checks the value against the column's
    // encoding (`None`: the field is not a column, step over its value).
    let mut field =
        |w: &mut Walk<'_>, key: &[u8], column: Column<'_>| -> Result<(), &'static str> {
            if !w.literal(key) {
                return Err("canonical");
            }
            match column {
                None => {
                    if w.value() {
                        Ok(())
                    } else {
                        Err("canonical")
                    }
                }
                Some((name, encode)) => {
                    scratch.clear();
                    encode(scratch);
                    // The whole value: the next byte ends it.
                    if w.literal(scratch) && matches!(w.bytes.get(w.at), Some(b',' | b'}')) {
                        Ok(())
                    } else {
                        Err(name)
                    }
                }
            }
        };
    let uuid = |b: &mut Vec<u8>, id: Option<uuid::Uuid>| {
        write_uuid(b, id, &mut uuid::Uuid::encode_buffer());
    };
    // The store writes the flags column in the entry's encoding (sorted,
    // unique names): its text is compared as it is.
    let flags = |buf: &mut Vec<u8>| buf.extend_from_slice(cols.compliance_flags.as_bytes());
    let risk = |buf: &mut Vec<u8>| match u64::try_from(cols.risk_score) {
        Ok(n) => write_u64(buf, n),
        // No canonical entry holds a negative score.
        Err(_) => buf.extend_from_slice(b"-"),
    };
    let steps: [(&[u8], Column<'_>); 19] = [
        (b"{\"action\":", None),
        (
            b",\"actor_user_id\":",
            Some(("actor_user_id", &|b| uuid(b, cols.actor_user_id))),
        ),
        (
            b",\"compliance_flags\":",
            Some(("compliance_flags", &flags)),
        ),
        (b",\"details\":", None),
        (
            b",\"event_type\":",
            Some(("event_type", &|b| write_str(b, &cols.event_type))),
        ),
        (b",\"id\":", Some(("id", &|b| uuid(b, Some(cols.id))))),
        (
            b",\"ip\":",
            Some(("ip", &|b| write_opt(b, cols.ip.as_deref()))),
        ),
        (b",\"log_id\":", None),
        (
            b",\"outcome\":",
            Some(("outcome", &|b| write_str(b, &cols.outcome))),
        ),
        (b",\"request_id\":", None),
        (
            b",\"resource_id\":",
            Some(("resource_id", &|b| {
                write_opt(b, cols.resource_id.as_deref())
            })),
        ),
        (
            b",\"resource_type\":",
            Some(("resource_type", &|b| {
                write_opt(b, cols.resource_type.as_deref())
            })),
        ),
        (b",\"risk_score\":", Some(("risk_score", &risk))),
        (b",\"seq\":", None),
        (b",\"session_id\":", None),
        (
            b",\"tenant_id\":",
            Some(("tenant_id", &|b| uuid(b, cols.tenant_id))),
        ),
        (
            b",\"timestamp\":",
            Some(("occurred_at", &|b| write_timestamp(b, &cols.occurred_at))),
        ),
        (b",\"user_agent\":", None),
        (b",\"v\":", None),
    ];
    for (key, column) in steps {
        if let Err(name) = field(&mut w, key, column) {
            return Some(name);
        }
    }
    if w.literal(b"}") && w.at == canonical.len() {
        None
    } else {
        Some("canonical")
    }
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
    /// Reused by the column check (no allocation per entry).
    scratch: Vec<u8>,
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
            scratch: Vec::with_capacity(256),
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
            .and_then(|c| disagreement(&raw.canonical, c, &mut self.scratch))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditRecord, ComplianceFlag};
    use crate::events::Outcome;

    fn entry() -> AuditEntry {
        AuditEntry {
            log_id: LogId::tenant(crate::TenantId::new()),
            seq: 3,
            id: uuid::Uuid::now_v7(),
            timestamp: chrono::DateTime::parse_from_rfc3339("2026-12-02T05:06:07.123456Z")
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default(),
            record: AuditRecord {
                event_type: "user_updated".into(),
                tenant_id: Some(crate::TenantId::new()),
                actor_user_id: Some(crate::UserId::new()),
                session_id: None,
                request_id: Some("r\"q\\1".into()),
                resource_type: Some("user".into()),
                resource_id: Some("x\ny".into()),
                action: "up\"date".into(),
                outcome: Outcome::Success,
                ip: Some("198.51.100.7".into()),
                user_agent: Some("a}b]c,d".into()),
                // Keys the walk must not mistake for the entry's own.
                details: serde_json::json!({
                    "event_type": "login_success",
                    "nested": [{"risk_score": 1, "s": "\",\"ip\":"}],
                    "n": 10
                }),
                compliance_flags: vec![
                    ComplianceFlag::SoxFinancialData,
                    ComplianceFlag::GdprProcessing,
                ],
                risk_score: 10,
            },
        }
    }

    fn columns(e: &AuditEntry) -> IndexedColumns {
        let mut flags: Vec<&str> = e
            .record
            .compliance_flags
            .iter()
            .map(|f| f.as_str())
            .collect();
        flags.sort_unstable();
        let flags = serde_json::to_string(&flags).unwrap_or_default();
        IndexedColumns {
            id: e.id,
            tenant_id: e.record.tenant_id.map(|t| t.as_uuid()),
            occurred_at: e.timestamp,
            event_type: e.record.event_type.clone(),
            actor_user_id: e.record.actor_user_id.map(|u| u.as_uuid()),
            resource_type: e.record.resource_type.clone(),
            resource_id: e.record.resource_id.clone(),
            outcome: e.record.outcome.as_str().to_owned(),
            ip: e.record.ip.clone(),
            compliance_flags: flags,
            risk_score: i64::from(e.record.risk_score),
        }
    }

    fn check(canonical: &[u8], cols: &IndexedColumns) -> Option<&'static str> {
        disagreement(canonical, cols, &mut Vec::new())
    }

    #[test]
    fn columns_copied_from_the_entry_agree() {
        let e = entry();
        let bytes = e.canonical_bytes().unwrap_or_default();
        let cols = columns(&e);
        assert_eq!(check(&bytes, &cols), None);
        // Nulls agree with absent values.
        let mut e = entry();
        e.record.ip = None;
        e.record.actor_user_id = None;
        e.record.tenant_id = None;
        e.record.resource_id = None;
        e.record.compliance_flags.clear();
        e.record.risk_score = 0;
        let bytes = e.canonical_bytes().unwrap_or_default();
        assert_eq!(check(&bytes, &columns(&e)), None);
    }

    #[test]
    fn each_changed_column_is_named() {
        let e = entry();
        let bytes = e.canonical_bytes().unwrap_or_default();
        type Change = fn(&mut IndexedColumns);
        let changes: [(&str, Change); 12] = [
            ("id", |c| c.id = uuid::Uuid::nil()),
            ("tenant_id", |c| c.tenant_id = None),
            ("occurred_at", |c| {
                c.occurred_at += chrono::Duration::microseconds(1);
            }),
            ("event_type", |c| c.event_type = "login_success".into()),
            ("actor_user_id", |c| {
                c.actor_user_id = Some(uuid::Uuid::nil())
            }),
            ("resource_type", |c| c.resource_type = None),
            ("resource_id", |c| c.resource_id = Some("x".into())),
            ("outcome", |c| c.outcome = "failure".into()),
            ("ip", |c| c.ip = Some("198.51.100.70".into())),
            ("compliance_flags", |c| c.compliance_flags = "[]".into()),
            // The same names in another order are not the stored text.
            ("compliance_flags", |c| {
                c.compliance_flags = r#"["SOX_FINANCIAL_DATA","GDPR_PROCESSING"]"#.into();
            }),
            // A prefix of the stored digits is not the value.
            ("risk_score", |c| c.risk_score = 1),
        ];
        for (name, change) in changes {
            let mut cols = columns(&e);
            change(&mut cols);
            assert_eq!(check(&bytes, &cols), Some(name), "{name}");
        }
        let mut cols = columns(&e);
        cols.risk_score = -1;
        assert_eq!(check(&bytes, &cols), Some("risk_score"));
    }

    #[test]
    fn bytes_that_are_not_an_entry_are_named_canonical() {
        let e = entry();
        let cols = columns(&e);
        let bytes = e.canonical_bytes().unwrap_or_default();
        let text = String::from_utf8(bytes.clone()).unwrap_or_default();
        for bad in [
            text.replacen(",", ", ", 1),
            format!("{text} "),
            text.replacen("{", "{\"a\":1,", 1),
            text[..text.len() - 1].to_owned(),
            String::new(),
            "not json".to_owned(),
        ] {
            assert_eq!(check(bad.as_bytes(), &cols), Some("canonical"), "{bad}");
        }
    }
}
