//! Envelope encryption (ISO 27001:2022 8.24), in the style of Vault
//! transit and Tink: data is sealed with AES-256-GCM under a per-tenant,
//! per-classification data key (DEK); DEKs are stored wrapped under the
//! master key. The format and the rules live in `isms_domain::crypto`;
//! this module does the cryptography.
//!
//! - `dek`: data keys and their wrapping under the master key.
//! - `aead`: `seal` / `open` of envelopes.
//! - `cache`: unwrapped DEKs kept in memory, bounded, zeroized on drop.
//! - `blind_index`: keyed hashes for equality search over encrypted values.
//! - `subject`: per-data-subject keys for crypto-shredding.
//!
//! Nothing here logs, prints or returns key material or plaintext in an
//! error; every `Debug` of a key prints only a placeholder.

pub mod aead;
pub mod blind_index;
pub mod cache;
pub mod dek;
pub mod service;
pub mod subject;

pub use aead::{open, seal};
pub use blind_index::{BlindIndex, BlindIndexValue, IndexKey, ct_eq};
pub use cache::DekCache;
pub use dek::{Dek, unwrap_dek, wrap_dek};
pub use service::{KeyService, KeyServiceError, LOOKUP_INDEX_KEY, SERVER};
pub use subject::SubjectKey;

use isms_domain::crypto::{EnvelopeError, KeyRuleError};
use isms_domain::ports::KeyWrapError;

/// Why an encryption or decryption failed. Deliberately coarse on the
/// decryption side: a wrong key, a wrong AAD and a tampered byte are all
/// `Unauthentic`, so callers cannot become a tampering oracle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The tag did not verify: tampered data, wrong AAD or wrong key.
    #[error("ciphertext failed authentication")]
    Unauthentic,
    /// The bytes are not an envelope (or wrapped key) this code can read.
    #[error("ciphertext or key is malformed")]
    Malformed,
    /// The envelope names a key that does not exist.
    #[error("unknown key")]
    UnknownKey,
    /// The key exists but may no longer decrypt.
    #[error("key is retired")]
    KeyRetired,
    /// Only the primary version encrypts.
    #[error("key is not the primary version")]
    NotPrimary,
    /// The version has performed its maximum number of encryptions.
    #[error("key usage cap reached; rotate the key")]
    UsageCapReached,
    /// The data subject's key was destroyed: its data is gone for good.
    #[error("the data subject's key was destroyed")]
    SubjectForgotten,
    /// The key and the AAD belong to different tenants.
    #[error("key and context belong to different tenants")]
    TenantMismatch,
    #[error("plaintext is too large for one envelope")]
    TooLarge,
    /// The operating system's random generator failed.
    #[error("random generator unavailable")]
    Random,
    /// Another key-ring rule was broken (an inconsistent ring, a bad
    /// policy): a bug or a corrupt store, not bad input.
    #[error(transparent)]
    KeyRing(KeyRuleError),
}

impl From<KeyRuleError> for CryptoError {
    fn from(e: KeyRuleError) -> Self {
        match e {
            KeyRuleError::NotPrimary => CryptoError::NotPrimary,
            KeyRuleError::UsageCapReached => CryptoError::UsageCapReached,
            KeyRuleError::Retired | KeyRuleError::BelowMinDecryptionVersion { .. } => {
                CryptoError::KeyRetired
            }
            KeyRuleError::UnknownVersion(_) | KeyRuleError::NoPrimary => CryptoError::UnknownKey,
            other => CryptoError::KeyRing(other),
        }
    }
}

impl From<EnvelopeError> for CryptoError {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::TooLarge => CryptoError::TooLarge,
            _ => CryptoError::Malformed,
        }
    }
}

impl From<KeyWrapError> for CryptoError {
    fn from(e: KeyWrapError) -> Self {
        match e {
            KeyWrapError::Unauthentic => CryptoError::Unauthentic,
            KeyWrapError::Malformed => CryptoError::Malformed,
        }
    }
}

/// Fills `buf` from the OS generator (for keys), reporting failure
/// instead of panicking (`OsRng::fill_bytes` would panic).
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    use rand::RngCore as _;
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|_| CryptoError::Random)
}

/// A fresh 96-bit GCM nonce. From the thread-local CSPRNG (ChaCha12,
/// seeded from the OS and reseeded periodically and after `fork`), not
/// from `OsRng` directly: one system call per encryption more than
/// doubled the cost of sealing 1 KiB in the benchmark. Nonces must be
/// unique and unpredictable, not secret; a CSPRNG gives both, and keys
/// still come straight from the OS.
pub(crate) fn random_nonce() -> Result<[u8; isms_domain::crypto::envelope::NONCE_LEN], CryptoError>
{
    use rand::RngCore as _;
    let mut nonce = [0u8; isms_domain::crypto::envelope::NONCE_LEN];
    rand::thread_rng()
        .try_fill_bytes(&mut nonce)
        .map_err(|_| CryptoError::Random)?;
    Ok(nonce)
}
