//! Audit entries and their canonical encoding (the bytes the Merkle leaf
//! hash covers). The format is documented in `docs/audit-format.md`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::events::Outcome;
use crate::ids::{SessionId, TenantId, UserId};
use crate::time::Timestamp;

use super::merkle::{Hash, leaf_hash};
use crate::canonical_json::write_str;

/// Version of the canonical encoding, the first field of every entry.
pub const ENCODING_VERSION: u64 = 1;

/// One append-only log per tenant plus one for server-level events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogId(Option<TenantId>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log id")]
pub struct InvalidLogId;

impl LogId {
    pub fn tenant(t: TenantId) -> Self {
        Self(Some(t))
    }

    pub fn server() -> Self {
        Self(None)
    }

    /// The tenant whose log this is (`None`: the server log).
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.0
    }

    /// `tenant:<uuid>` or `server`.
    pub fn parse(s: &str) -> Result<Self, InvalidLogId> {
        if s == "server" {
            return Ok(Self::server());
        }
        let id = s.strip_prefix("tenant:").ok_or(InvalidLogId)?;
        id.parse().map(Self::tenant).map_err(|_| InvalidLogId)
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => write!(f, "tenant:{t}"),
            None => f.write_str("server"),
        }
    }
}

macro_rules! flags {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// Regulatory flags an entry carries.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ComplianceFlag {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl ComplianceFlag {
            pub const ALL: &'static [ComplianceFlag] = &[$(ComplianceFlag::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ComplianceFlag::$variant => $name,)+
                }
            }
        }
    };
}

flags! {
    GdprProcessing => "GDPR_PROCESSING",
    GdprConsentMissing => "GDPR_CONSENT_MISSING",
    SoxFinancialData => "SOX_FINANCIAL_DATA",
    SoxChangeControl => "SOX_CHANGE_CONTROL",
    Iso27001AccessViolation => "ISO27001_ACCESS_VIOLATION",
}

impl ComplianceFlag {
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.as_str() == s)
    }
}

/// What a service records; the store adds the position (`seq`), id and
/// time when it appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub event_type: String,
    pub tenant_id: Option<TenantId>,
    pub actor_user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action: String,
    pub outcome: Outcome,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Facts about the event: ids and field names, never secrets or
    /// personal data in clear.
    pub details: serde_json::Value,
    pub compliance_flags: Vec<ComplianceFlag>,
    /// 0..=10.
    pub risk_score: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} is longer than {1} characters")]
    TooLong(&'static str, usize),
    #[error("risk score {0} is above 10")]
    Risk(u8),
    #[error("details hold a non-integer number (floats have no canonical form)")]
    Float,
    #[error("details are larger than {0} bytes encoded")]
    DetailsTooLarge(usize),
    /// Stored bytes that are not a canonical entry (not JSON, a field
    /// missing or malformed, or not in canonical form).
    #[error("not a canonical entry: {0}")]
    NotCanonical(String),
}

/// The fields of a canonical entry, for decoding.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    action: String,
    actor_user_id: Option<UserId>,
    compliance_flags: Vec<ComplianceFlag>,
    details: serde_json::Value,
    event_type: String,
    id: uuid::Uuid,
    ip: Option<String>,
    log_id: String,
    outcome: Outcome,
    request_id: Option<String>,
    resource_id: Option<String>,
    resource_type: Option<String>,
    risk_score: u8,
    seq: u64,
    session_id: Option<SessionId>,
    tenant_id: Option<TenantId>,
    timestamp: String,
    user_agent: Option<String>,
    v: u64,
}

/// Largest encoded `details`.
pub const MAX_DETAILS_BYTES: usize = 16 * 1024;

impl AuditRecord {
    /// Caps that keep every entry small and encodable.
    pub fn validate(&self) -> Result<(), EncodingError> {
        let text = |name, v: &str, max| {
            if v.chars().count() > max {
                Err(EncodingError::TooLong(name, max))
            } else {
                Ok(())
            }
        };
        if self.event_type.is_empty() {
            return Err(EncodingError::Empty("event_type"));
        }
        if self.action.is_empty() {
            return Err(EncodingError::Empty("action"));
        }
        text("event_type", &self.event_type, 128)?;
        text("action", &self.action, 128)?;
        for (name, v, max) in [
            ("request_id", &self.request_id, 128),
            ("resource_type", &self.resource_type, 64),
            ("resource_id", &self.resource_id, 256),
            ("ip", &self.ip, 64),
            ("user_agent", &self.user_agent, 1024),
        ] {
            if let Some(v) = v {
                text(name, v, max)?;
            }
        }
        if self.risk_score > 10 {
            return Err(EncodingError::Risk(self.risk_score));
        }
        let mut buf = Vec::new();
        write_value(&mut buf, &self.details)?;
        if buf.len() > MAX_DETAILS_BYTES {
            return Err(EncodingError::DetailsTooLarge(MAX_DETAILS_BYTES));
        }
        Ok(())
    }
}

/// An entry as stored: a record at its place in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub log_id: LogId,
    /// 0-based, gapless per log.
    pub seq: u64,
    pub id: uuid::Uuid,
    pub timestamp: Timestamp,
    pub record: AuditRecord,
}

impl AuditEntry {
    /// The canonical encoding (see `docs/audit-format.md`).
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, EncodingError> {
        let mut buf = Vec::with_capacity(512);
        self.canonical_bytes_into(&mut buf)?;
        Ok(buf)
    }

    /// Encodes into `buf` (cleared first), so a verifier can reuse one
    /// buffer for a million entries.
    pub fn canonical_bytes_into(&self, buf: &mut Vec<u8>) -> Result<(), EncodingError> {
        buf.clear();
        let r = &self.record;
        let mut uuid_buf = uuid::Uuid::encode_buffer();
        // Keys in ascending byte order: the encoding is canonical JSON.
        buf.push(b'{');
        let mut first = true;
        let mut key = |buf: &mut Vec<u8>, k: &str| {
            if !first {
                buf.push(b',');
            }
            first = false;
            write_str(buf, k);
            buf.push(b':');
        };
        key(buf, "action");
        write_str(buf, &r.action);
        key(buf, "actor_user_id");
        write_uuid(buf, r.actor_user_id.map(|u| u.as_uuid()), &mut uuid_buf);
        key(buf, "compliance_flags");
        buf.push(b'[');
        let mut flags = r.compliance_flags.clone();
        flags.sort_unstable_by_key(|f| f.as_str());
        flags.dedup();
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_str(buf, f.as_str());
        }
        buf.push(b']');
        key(buf, "details");
        write_value(buf, &r.details)?;
        key(buf, "event_type");
        write_str(buf, &r.event_type);
        key(buf, "id");
        write_uuid(buf, Some(self.id), &mut uuid_buf);
        key(buf, "ip");
        write_opt(buf, r.ip.as_deref());
        key(buf, "log_id");
        match self.log_id.tenant_id() {
            Some(t) => {
                buf.extend_from_slice(b"\"tenant:");
                buf.extend_from_slice(
                    t.as_uuid()
                        .hyphenated()
                        .encode_lower(&mut uuid_buf)
                        .as_bytes(),
                );
                buf.push(b'"');
            }
            None => buf.extend_from_slice(b"\"server\""),
        }
        key(buf, "outcome");
        write_str(buf, r.outcome.as_str());
        key(buf, "request_id");
        write_opt(buf, r.request_id.as_deref());
        key(buf, "resource_id");
        write_opt(buf, r.resource_id.as_deref());
        key(buf, "resource_type");
        write_opt(buf, r.resource_type.as_deref());
        key(buf, "risk_score");
        write_u64(buf, u64::from(r.risk_score));
        key(buf, "seq");
        write_u64(buf, self.seq);
        key(buf, "session_id");
        write_uuid(buf, r.session_id.map(|u| u.as_uuid()), &mut uuid_buf);
        key(buf, "tenant_id");
        write_uuid(buf, r.tenant_id.map(|u| u.as_uuid()), &mut uuid_buf);
        key(buf, "timestamp");
        write_timestamp(buf, &self.timestamp);
        key(buf, "user_agent");
        write_opt(buf, r.user_agent.as_deref());
        key(buf, "v");
        write_u64(buf, ENCODING_VERSION);
        buf.push(b'}');
        Ok(())
    }

    /// Decodes stored canonical bytes. Only the exact canonical encoding is
    /// accepted (decoding and re-encoding must give the same bytes), so an
    /// entry has one representation and its leaf hash one value.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, EncodingError> {
        let bad = |m: &str| EncodingError::NotCanonical(m.to_owned());
        let w: Wire = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        if w.v != ENCODING_VERSION {
            return Err(bad("unknown encoding version"));
        }
        let timestamp = chrono::DateTime::parse_from_rfc3339(&w.timestamp)
            .map_err(|_| bad("timestamp"))?
            .with_timezone(&chrono::Utc);
        let entry = AuditEntry {
            log_id: LogId::parse(&w.log_id).map_err(|_| bad("log_id"))?,
            seq: w.seq,
            id: w.id,
            timestamp,
            record: AuditRecord {
                event_type: w.event_type,
                tenant_id: w.tenant_id,
                actor_user_id: w.actor_user_id,
                session_id: w.session_id,
                request_id: w.request_id,
                resource_type: w.resource_type,
                resource_id: w.resource_id,
                action: w.action,
                outcome: w.outcome,
                ip: w.ip,
                user_agent: w.user_agent,
                details: w.details,
                compliance_flags: w.compliance_flags,
                risk_score: w.risk_score,
            },
        };
        if entry.canonical_bytes()? != bytes {
            return Err(bad("not in canonical form"));
        }
        Ok(entry)
    }

    /// The log and sequence number canonical bytes name, without decoding
    /// the rest: the verifier's fast path. The top-level `"seq"` and
    /// `"log_id"` keys are the last occurrences of `,"seq":` and
    /// `,"log_id":"` (inside a JSON string a quote is always escaped, and
    /// `details`, which may hold such keys, comes before both).
    pub fn position_of(bytes: &[u8]) -> Option<(&str, u64)> {
        let text = std::str::from_utf8(bytes).ok()?;
        let at = text.rfind(",\"seq\":")? + 7;
        let digits = text[at..].split(',').next()?;
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        let seq = digits.parse().ok()?;
        let at = text.rfind(",\"log_id\":\"")? + 11;
        let log = text[at..].split('"').next()?;
        Some((log, seq))
    }

    /// `SHA-256(0x00 ‖ canonical bytes)`.
    pub fn leaf_hash(&self) -> Result<Hash, EncodingError> {
        Ok(leaf_hash(&self.canonical_bytes()?))
    }
}

pub(super) fn write_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

pub(super) fn write_uuid(buf: &mut Vec<u8>, id: Option<uuid::Uuid>, scratch: &mut [u8; 45]) {
    match id {
        Some(id) => {
            buf.push(b'"');
            buf.extend_from_slice(id.hyphenated().encode_lower(scratch).as_bytes());
            buf.push(b'"');
        }
        None => buf.extend_from_slice(b"null"),
    }
}

/// `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` (the verifier formats a million of these).
pub(super) fn write_timestamp(buf: &mut Vec<u8>, t: &Timestamp) {
    use chrono::{Datelike, Timelike};
    let pad = |buf: &mut Vec<u8>, n: u32, width: usize| {
        let mut digits = [b'0'; 10];
        let mut v = n;
        for d in digits[..width].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        buf.extend_from_slice(&digits[..width]);
    };
    buf.push(b'"');
    let year = t.year();
    if (0..=9999).contains(&year) {
        pad(buf, year.unsigned_abs(), 4);
    } else {
        // Outside RFC 3339's range; never produced by the clock.
        buf.extend_from_slice(year.to_string().as_bytes());
    }
    buf.push(b'-');
    pad(buf, t.month(), 2);
    buf.push(b'-');
    pad(buf, t.day(), 2);
    buf.push(b'T');
    pad(buf, t.hour(), 2);
    buf.push(b':');
    pad(buf, t.minute(), 2);
    buf.push(b':');
    pad(buf, t.second(), 2);
    buf.push(b'.');
    pad(buf, (t.nanosecond() % 1_000_000_000) / 1000, 6);
    buf.extend_from_slice(b"Z\"");
}

pub(super) fn write_opt(buf: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => write_str(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

fn write_value(buf: &mut Vec<u8>, v: &serde_json::Value) -> Result<(), EncodingError> {
    crate::canonical_json::write_canonical(buf, v).map_err(|_| EncodingError::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            log_id: LogId::server(),
            seq: 7,
            id: uuid::Uuid::nil(),
            timestamp: chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00.5Z")
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default(),
            record: AuditRecord {
                event_type: "login_failure".into(),
                tenant_id: None,
                actor_user_id: None,
                session_id: None,
                request_id: Some("r\"1".into()),
                resource_type: None,
                resource_id: None,
                action: "login".into(),
                outcome: Outcome::Failure,
                ip: Some("192.0.2.1".into()),
                user_agent: None,
                details: serde_json::json!({"z": 1, "a": [true, null, "é\n"]}),
                compliance_flags: vec![
                    ComplianceFlag::SoxChangeControl,
                    ComplianceFlag::GdprProcessing,
                ],
                risk_score: 3,
            },
        }
    }

    #[test]
    fn encoding_is_canonical_json_with_sorted_keys() {
        let bytes = entry().canonical_bytes().unwrap_or_default();
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(text.starts_with("{\"action\":\"login\",\"actor_user_id\":null,"));
        assert!(text.contains(r#""compliance_flags":["GDPR_PROCESSING","SOX_CHANGE_CONTROL"]"#));
        assert!(text.contains(r#""details":{"a":[true,null,"é\n"],"z":1}"#));
        assert!(text.contains(r#""request_id":"r\"1""#));
        assert!(text.contains(r#""timestamp":"2026-12-01T10:00:00.500000Z""#));
        assert!(text.ends_with(r#""user_agent":null,"v":1}"#));
        // It is valid JSON that parses back to the same field values.
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(parsed["seq"], 7);
        assert_eq!(parsed["details"]["a"][2], "é\n");
    }

    #[test]
    fn floats_are_refused() {
        let mut e = entry();
        e.record.details = serde_json::json!({"x": 1.5});
        assert_eq!(e.canonical_bytes(), Err(EncodingError::Float));
        assert_eq!(e.record.validate(), Err(EncodingError::Float));
    }

    #[test]
    fn any_field_change_changes_the_leaf() {
        let base = entry().leaf_hash();
        let mut e = entry();
        e.seq = 8;
        assert_ne!(e.leaf_hash(), base);
        let mut e = entry();
        e.record.risk_score = 4;
        assert_ne!(e.leaf_hash(), base);
        let mut e = entry();
        e.record.details = serde_json::json!({"z": 2, "a": [true, null, "é\n"]});
        assert_ne!(e.leaf_hash(), base);
    }

    #[test]
    fn canonical_bytes_decode_back_and_only_canonical_ones() {
        let e = entry();
        let bytes = e.canonical_bytes().unwrap_or_default();
        let decoded = AuditEntry::from_canonical(&bytes);
        assert!(decoded.is_ok(), "{decoded:?}");
        let back = decoded.unwrap_or_else(|_| entry());
        assert_eq!(back.canonical_bytes(), Ok(bytes.clone()));
        assert_eq!(back.record.details, e.record.details);
        assert_eq!(back.seq, 7);
        let spaced = String::from_utf8(bytes.clone())
            .unwrap_or_default()
            .replacen(",", ", ", 1);
        assert!(matches!(
            AuditEntry::from_canonical(spaced.as_bytes()),
            Err(EncodingError::NotCanonical(_))
        ));
        let extra = String::from_utf8(bytes)
            .unwrap_or_default()
            .replacen("{", "{\"x\":1,", 1);
        assert!(AuditEntry::from_canonical(extra.as_bytes()).is_err());
        assert!(AuditEntry::from_canonical(b"not json").is_err());
    }

    #[test]
    fn position_is_read_without_decoding() {
        let mut e = entry();
        e.record.details = serde_json::json!({"seq": 99, "x": {"log_id": "tenant:evil"}});
        let bytes = e.canonical_bytes().unwrap_or_default();
        assert_eq!(AuditEntry::position_of(&bytes), Some(("server", 7)));
        assert_eq!(AuditEntry::position_of(b"{}"), None);
    }

    #[test]
    fn log_ids_round_trip() {
        let t = TenantId::new();
        assert_eq!(
            LogId::parse(&LogId::tenant(t).to_string()),
            Ok(LogId::tenant(t))
        );
        assert_eq!(LogId::parse("server"), Ok(LogId::server()));
        assert!(LogId::parse("tenant:nope").is_err());
    }

    #[test]
    fn validation_caps_fields() {
        let mut e = entry();
        e.record.risk_score = 11;
        assert_eq!(e.record.validate(), Err(EncodingError::Risk(11)));
        let mut e = entry();
        e.record.action.clear();
        assert_eq!(e.record.validate(), Err(EncodingError::Empty("action")));
        assert!(entry().record.validate().is_ok());
    }
}
