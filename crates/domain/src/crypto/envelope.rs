//! The envelope: a self-describing, versioned container for one
//! AES-256-GCM ciphertext. Layout of format 1 (all integers big-endian;
//! see `docs/crypto-format.md`):
//!
//! ```text
//! offset len  field
//!  0      1   format version = 0x01
//!  1      1   key kind: 0x01 tenant data key, 0x02 data-subject key
//!  2      1   classification code (1 public .. 4 restricted)
//!  3      4   key version (u32, >= 1)
//!  7      4   ciphertext length n (u32, tag excluded)
//! 11     12   nonce
//! 23      n   ciphertext
//! 23+n   16   GCM tag
//! ```
//!
//! The tenant is not stored: it is bound through the AAD instead (see
//! `aad.rs`), so a ciphertext moved to another tenant fails to open and
//! the key to try is always taken from the caller's authenticated tenant,
//! never from attacker-controllable bytes. The explicit length makes
//! truncation and trailing bytes structural errors, caught before any
//! cryptography runs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use super::classification::Classification;
use super::key_ref::KeyRef;
use crate::ids::TenantId;

pub const FORMAT_V1: u8 = 0x01;
/// Bytes before the nonce.
pub const HEADER_LEN: usize = 11;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Envelope size minus plaintext size.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Prefix of the text form (`isms:v1:` + base64url without padding).
pub const TEXT_PREFIX: &str = "isms:v1:";

/// Which family of keys sealed the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A version of the tenant's key ring for the classification.
    DataKey,
    /// The key of one data subject (crypto-shredding).
    SubjectKey,
}

impl KeyKind {
    pub const fn code(self) -> u8 {
        match self {
            KeyKind::DataKey => 0x01,
            KeyKind::SubjectKey => 0x02,
        }
    }

    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0x01 => Some(KeyKind::DataKey),
            0x02 => Some(KeyKind::SubjectKey),
            _ => None,
        }
    }
}

/// The key-identifying part of the header. Its bytes are also bound into
/// the AAD, so none of them can be changed without failing the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnvelopeHeader {
    pub kind: KeyKind,
    pub classification: Classification,
    pub key_version: u32,
}

/// Length of `EnvelopeHeader::to_bytes`.
pub const KEY_HEADER_LEN: usize = 7;

impl EnvelopeHeader {
    /// A header naming a tenant data-key version.
    pub const fn data_key(key: &KeyRef) -> Self {
        Self {
            kind: KeyKind::DataKey,
            classification: key.classification,
            key_version: key.version,
        }
    }

    /// Format version, kind, classification and key version: the header
    /// bytes bound into the AAD (the length is authenticated by GCM itself).
    pub fn to_bytes(&self) -> [u8; KEY_HEADER_LEN] {
        let v = self.key_version.to_be_bytes();
        [
            FORMAT_V1,
            self.kind.code(),
            self.classification.code(),
            v[0],
            v[1],
            v[2],
            v[3],
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is truncated")]
    Truncated,
    #[error("envelope has trailing bytes")]
    TrailingBytes,
    #[error("unknown envelope format version {0}")]
    UnknownFormat(u8),
    #[error("unknown key kind {0}")]
    UnknownKeyKind(u8),
    #[error("unknown classification code {0}")]
    UnknownClassification(u8),
    #[error("key version 0 is invalid")]
    ZeroKeyVersion,
    #[error("ciphertext is too large for an envelope")]
    TooLarge,
    #[error("text envelope must start with {TEXT_PREFIX}")]
    NotText,
    #[error("text envelope is not canonical base64url")]
    BadBase64,
}

/// A decoded envelope. Fields are private so every value is encodable:
/// the constructor checks the sizes `encode` relies on.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    header: EnvelopeHeader,
    nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    sealed: Vec<u8>,
}

impl std::fmt::Debug for Envelope {
    // Ciphertext is not secret, but dumping it into logs helps nobody.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("header", &self.header)
            .field("len", &self.sealed.len())
            .finish_non_exhaustive()
    }
}

impl Envelope {
    /// `sealed` is ciphertext ‖ tag, as AES-GCM produces it.
    pub fn from_parts(
        header: EnvelopeHeader,
        nonce: [u8; NONCE_LEN],
        sealed: Vec<u8>,
    ) -> Result<Self, EnvelopeError> {
        if header.key_version == 0 {
            return Err(EnvelopeError::ZeroKeyVersion);
        }
        let ct_len = sealed
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(EnvelopeError::Truncated)?;
        if u32::try_from(ct_len).is_err() {
            return Err(EnvelopeError::TooLarge);
        }
        Ok(Self {
            header,
            nonce,
            sealed,
        })
    }

    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// Ciphertext ‖ tag.
    pub fn sealed(&self) -> &[u8] {
        &self.sealed
    }

    /// The data key this envelope names, within the caller's `tenant`;
    /// `None` for subject-key envelopes.
    pub fn key_ref(&self, tenant: TenantId) -> Option<KeyRef> {
        (self.header.kind == KeyKind::DataKey).then_some(KeyRef::new(
            tenant,
            self.header.classification,
            self.header.key_version,
        ))
    }

    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + NONCE_LEN + self.sealed.len()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.header.to_bytes());
        // Cannot truncate: `from_parts` checked that it fits.
        let ct_len = u32::try_from(self.sealed.len() - TAG_LEN).unwrap_or(u32::MAX);
        out.extend_from_slice(&ct_len.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.sealed);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let &format = bytes.first().ok_or(EnvelopeError::Truncated)?;
        if format != FORMAT_V1 {
            return Err(EnvelopeError::UnknownFormat(format));
        }
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(EnvelopeError::Truncated)?;
        let kind = KeyKind::from_code(header[1]).ok_or(EnvelopeError::UnknownKeyKind(header[1]))?;
        let classification = Classification::from_code(header[2])
            .ok_or(EnvelopeError::UnknownClassification(header[2]))?;
        let key_version = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        if key_version == 0 {
            return Err(EnvelopeError::ZeroKeyVersion);
        }
        let ct_len = u32::from_be_bytes([header[7], header[8], header[9], header[10]]);
        let expected = usize::try_from(ct_len)
            .ok()
            .and_then(|n| n.checked_add(OVERHEAD))
            .ok_or(EnvelopeError::TooLarge)?;
        match bytes.len().cmp(&expected) {
            std::cmp::Ordering::Less => return Err(EnvelopeError::Truncated),
            std::cmp::Ordering::Greater => return Err(EnvelopeError::TrailingBytes),
            std::cmp::Ordering::Equal => {}
        }
        let (nonce, sealed) = bytes[HEADER_LEN..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| EnvelopeError::Truncated)?;
        Self::from_parts(
            EnvelopeHeader {
                kind,
                classification,
                key_version,
            },
            nonce,
            sealed.to_vec(),
        )
    }

    /// `isms:v1:` + base64url (no padding): for TEXT columns.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(TEXT_PREFIX.len() + self.encoded_len().div_ceil(3) * 4);
        out.push_str(TEXT_PREFIX);
        B64URL.encode_string(self.encode(), &mut out);
        out
    }

    /// Strict inverse of `to_text`: exact prefix, canonical base64url.
    pub fn from_text(text: &str) -> Result<Self, EnvelopeError> {
        let body = text
            .strip_prefix(TEXT_PREFIX)
            .ok_or(EnvelopeError::NotText)?;
        let bytes = B64URL.decode(body).map_err(|_| EnvelopeError::BadBase64)?;
        Self::decode(&bytes)
    }

    /// Whether a stored text value is in envelope form (for migrations
    /// that encrypt existing plaintext columns lazily).
    pub fn is_text_envelope(text: &str) -> bool {
        text.starts_with(TEXT_PREFIX)
    }
}
