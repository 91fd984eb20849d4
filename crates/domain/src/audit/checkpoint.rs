//! Signed checkpoints in the C2SP formats: the `tlog-checkpoint` body and
//! the Ed25519 `signed-note` around it, so standard tooling can read them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;
use crate::time::Timestamp;

/// The signed-note signature type byte of Ed25519.
const ED25519: u8 = 0x01;
/// The extension line that carries the checkpoint's time.
const TIME_PREFIX: &str = "time ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique origin line, e.g. `isms.example/audit/tenant:<uuid>`.
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: Hash,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("no signature by key {0}")]
    NoSignature(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed verifier key")]
    BadKey,
}

impl Checkpoint {
    /// The note text: origin, size, base64 root, then one extension line
    /// `time <RFC 3339, microseconds, Z>`; every line ends in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{TIME_PREFIX}{}\n",
            self.origin,
            self.tree_size,
            B64.encode(self.root_hash),
            self.timestamp.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        )
    }

    fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let text = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("no final newline"))?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root, time] = lines.as_slice() else {
            return Err(CheckpointError::Malformed("expected four lines"));
        };
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("empty origin"));
        }
        // Canonical decimal: no sign, no leading zeros.
        if size.is_empty() || (size.len() > 1 && size.starts_with('0')) {
            return Err(CheckpointError::Malformed("tree size"));
        }
        let tree_size = size
            .parse::<u64>()
            .map_err(|_| CheckpointError::Malformed("tree size"))?;
        let root_bytes = B64
            .decode(root)
            .map_err(|_| CheckpointError::Malformed("root hash"))?;
        let root_hash = Hash::try_from(root_bytes.as_slice())
            .map_err(|_| CheckpointError::Malformed("root hash"))?;
        if B64.encode(root_hash) != *root {
            return Err(CheckpointError::Malformed("root hash"));
        }
        let time = time
            .strip_prefix(TIME_PREFIX)
            .ok_or(CheckpointError::Malformed("time line"))?;
        let timestamp = chrono::DateTime::parse_from_rfc3339(time)
            .map_err(|_| CheckpointError::Malformed("time line"))?
            .with_timezone(&chrono::Utc);
        Ok(Self {
            origin: (*origin).to_owned(),
            tree_size,
            root_hash,
            timestamp,
        })
    }
}

/// Associated data of the audit log key wrapped under the master key.
pub fn log_key_wrap_aad(key_id: &str) -> Vec<u8> {
    format!("isms:audit-log-key:{key_id}").into_bytes()
}

/// The 4-byte key id: `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4]`.
pub fn note_key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The note text followed by a blank line and one signature line.
pub fn sign_note(body: &str, key_name: &str, secret: &[u8; 32]) -> String {
    let key = SigningKey::from_bytes(secret);
    let sig = key.sign(body.as_bytes());
    let mut blob = note_key_id(key_name, &key.verifying_key().to_bytes()).to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    format!("{body}\n\u{2014} {key_name} {}\n", B64.encode(blob))
}

/// `<name>+<8 hex digits of the key id>+<base64(0x01 ‖ public key)>`.
pub fn verifier_key(key_name: &str, public: &[u8; 32]) -> String {
    let id = note_key_id(key_name, public);
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut k = vec![ED25519];
    k.extend_from_slice(public);
    format!("{key_name}+{hex}+{}", B64.encode(k))
}

pub fn parse_verifier_key(s: &str) -> Result<(String, [u8; 32]), CheckpointError> {
    // The key's base64 may itself hold '+'.
    let mut parts = s.trim().splitn(3, '+');
    let (Some(name), Some(hex), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CheckpointError::BadKey);
    };
    let raw = B64.decode(key).map_err(|_| CheckpointError::BadKey)?;
    let (&kind, public) = raw.split_first().ok_or(CheckpointError::BadKey)?;
    let public: [u8; 32] = public.try_into().map_err(|_| CheckpointError::BadKey)?;
    if kind != ED25519 || name.is_empty() {
        return Err(CheckpointError::BadKey);
    }
    let id: String = note_key_id(name, &public)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if id != hex {
        return Err(CheckpointError::BadKey);
    }
    Ok((name.to_owned(), public))
}

/// Verifies a signed note's signature by `key_name` and returns its text
/// (any signed note, not only checkpoints).
pub fn open_signed_note<'a>(
    note: &'a str,
    key_name: &str,
    public: &[u8; 32],
) -> Result<&'a str, CheckpointError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(CheckpointError::Malformed("control character"));
    }
    // The text ends at the last blank line: the text may hold blank lines,
    // the signature block cannot.
    let split = note
        .rfind("\n\n")
        .ok_or(CheckpointError::Malformed("no blank line"))?;
    let (body, sigs) = (&note[..=split], &note[split + 2..]);
    let vk = VerifyingKey::from_bytes(public).map_err(|_| CheckpointError::BadKey)?;
    let want_id = note_key_id(key_name, public);
    let mut found = false;
    for line in sigs.lines() {
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or(CheckpointError::Malformed("signature line"))?;
        let (name, sig) = rest
            .split_once(' ')
            .ok_or(CheckpointError::Malformed("signature line"))?;
        if name != key_name {
            continue;
        }
        let blob = B64
            .decode(sig)
            .map_err(|_| CheckpointError::Malformed("signature"))?;
        if blob.len() != 68 || blob[..4] != want_id {
            continue;
        }
        let sig = Signature::from_slice(&blob[4..]).map_err(|_| CheckpointError::BadSignature)?;
        vk.verify(body.as_bytes(), &sig)
            .map_err(|_| CheckpointError::BadSignature)?;
        found = true;
    }
    if !sigs.ends_with('\n') {
        return Err(CheckpointError::Malformed("no final newline"));
    }
    if !found {
        return Err(CheckpointError::NoSignature(key_name.to_owned()));
    }
    Ok(body)
}

/// Verifies a signed checkpoint by `key_name` and parses its body.
pub fn open_note(
    note: &str,
    key_name: &str,
    public: &[u8; 32],
) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::parse_body(open_signed_note(note, key_name, public)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint {
            origin: "isms.test/audit/server".into(),
            tree_size: 42,
            root_hash: [7u8; 32],
            timestamp: chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00.123456Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let secret = [9u8; 32];
        let public = SigningKey::from_bytes(&secret).verifying_key().to_bytes();
        let note = sign_note(&cp().body(), "isms.test/audit", &secret);
        assert_eq!(open_note(&note, "isms.test/audit", &public).unwrap(), cp());
        let tampered = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            open_note(&tampered, "isms.test/audit", &public),
            Err(CheckpointError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[8u8; 32])
            .verifying_key()
            .to_bytes();
        assert!(open_note(&note, "isms.test/audit", &other).is_err());
        assert!(open_note(&note, "other", &public).is_err());
    }

    #[test]
    fn verifier_keys_round_trip_and_check_their_id() {
        let public = SigningKey::from_bytes(&[3u8; 32])
            .verifying_key()
            .to_bytes();
        let k = verifier_key("isms.test/audit", &public);
        assert_eq!(
            parse_verifier_key(&k).unwrap(),
            ("isms.test/audit".to_owned(), public)
        );
        let bad = k.replacen("isms.test", "isms.tost", 1);
        assert_eq!(parse_verifier_key(&bad), Err(CheckpointError::BadKey));
    }
}
