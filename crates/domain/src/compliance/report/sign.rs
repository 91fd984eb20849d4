//! Signing a report with Ed25519.
//!
//! The signed message is `REPORT_SIGNATURE_CONTEXT` followed by the
//! canonical JSON of `{"checkpoint": …, "key_id": …, "report": …, "v": 1}`,
//! where `report` is the report's JSON with `score` replaced by its
//! one-decimal string (`"87.5"`): canonical JSON has no floats. The
//! context string keeps a report signature from ever being valid as the
//! signature of something else made with the same key (a checkpoint note).
//!
//! Keys travel as bytes (`[u8; 32]`), as in `audit::checkpoint`, so the
//! caller's ed25519 generation does not matter.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::canonical::{FloatInCanonical, write_canonical};
use super::{ComplianceReport, ReportCheckpoint};
use crate::audit::note_key_id;

/// Domain separation for report signatures.
pub const REPORT_SIGNATURE_CONTEXT: &[u8] = b"isms compliance report v1\n";
const ENVELOPE_VERSION: u64 = 1;

/// A report with its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedReport {
    pub report: ComplianceReport,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub signature: String,
    /// `<key name>+<8 hex digits>`: the name and the note key id of the
    /// signing key (`audit::note_key_id`), as in checkpoint verifier keys.
    pub key_id: String,
    /// The audit checkpoint the report was built against (a copy of
    /// `report.audit_summary.checkpoint`, signed with it).
    pub checkpoint: ReportCheckpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Float(#[from] FloatInCanonical),
    #[error("report does not serialise: {0}")]
    Serialise(String),
    #[error("malformed key id or public key")]
    BadKey,
    #[error("signed by another key")]
    WrongKey,
    #[error("the signed checkpoint is not the report's")]
    CheckpointMismatch,
    #[error("malformed signature")]
    MalformedSignature,
    #[error("signature does not verify")]
    BadSignature,
}

/// `<name>+<8 hex digits of note_key_id(name, public)>`.
pub fn report_key_id(key_name: &str, public: &[u8; 32]) -> String {
    let hex: String = note_key_id(key_name, public)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{key_name}+{hex}")
}

/// The report's canonical JSON (score as a one-decimal string).
pub fn canonical_report_bytes(report: &ComplianceReport) -> Result<Vec<u8>, ReportError> {
    let mut buf = Vec::with_capacity(4096);
    write_canonical(&mut buf, &report_value(report)?)?;
    Ok(buf)
}

fn report_value(report: &ComplianceReport) -> Result<Value, ReportError> {
    let mut v = serde_json::to_value(report).map_err(|e| ReportError::Serialise(e.to_string()))?;
    if let Value::Object(map) = &mut v {
        map.insert("score".into(), Value::String(report.score.to_string()));
    }
    Ok(v)
}

/// The exact bytes the signature covers.
pub fn signing_message(
    report: &ComplianceReport,
    key_id: &str,
    checkpoint: &ReportCheckpoint,
) -> Result<Vec<u8>, ReportError> {
    let envelope = json!({
        "checkpoint": { "root_hash": checkpoint.root_hash, "tree_size": checkpoint.tree_size },
        "key_id": key_id,
        "report": report_value(report)?,
        "v": ENVELOPE_VERSION,
    });
    let mut buf = REPORT_SIGNATURE_CONTEXT.to_vec();
    write_canonical(&mut buf, &envelope)?;
    Ok(buf)
}

/// Signs `report` with the Ed25519 key `secret`, named `key_name`.
pub fn sign_report(
    report: &ComplianceReport,
    key_name: &str,
    secret: &[u8; 32],
) -> Result<SignedReport, ReportError> {
    if key_name.is_empty() || key_name.contains(['+', ' ', '\n']) {
        return Err(ReportError::BadKey);
    }
    let key = SigningKey::from_bytes(secret);
    let key_id = report_key_id(key_name, &key.verifying_key().to_bytes());
    let checkpoint = report.audit_summary.checkpoint.clone();
    let message = signing_message(report, &key_id, &checkpoint)?;
    let signature = key.sign(&message);
    Ok(SignedReport {
        report: report.clone(),
        signature: B64.encode(signature.to_bytes()),
        key_id,
        checkpoint,
    })
}

/// Verifies a signed report against the public key `public`: the key id
/// must be this key's, the signed checkpoint the report's, and the
/// signature must cover exactly this report.
pub fn verify_report(signed: &SignedReport, public: &[u8; 32]) -> Result<(), ReportError> {
    let (name, _) = signed.key_id.rsplit_once('+').ok_or(ReportError::BadKey)?;
    if report_key_id(name, public) != signed.key_id {
        return Err(ReportError::WrongKey);
    }
    if signed.checkpoint != signed.report.audit_summary.checkpoint {
        return Err(ReportError::CheckpointMismatch);
    }
    let vk = VerifyingKey::from_bytes(public).map_err(|_| ReportError::BadKey)?;
    let raw = B64
        .decode(&signed.signature)
        .map_err(|_| ReportError::MalformedSignature)?;
    let signature = Signature::from_slice(&raw).map_err(|_| ReportError::MalformedSignature)?;
    let message = signing_message(&signed.report, &signed.key_id, &signed.checkpoint)?;
    vk.verify_strict(&message, &signature)
        .map_err(|_| ReportError::BadSignature)
}
