//! Sealing and opening envelopes with AES-256-GCM: 96-bit random nonce,
//! 128-bit tag, AAD = envelope key header ‖ context (see
//! `isms_domain::crypto::aad`).

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Nonce, Tag};
use isms_domain::crypto::envelope::{NONCE_LEN, TAG_LEN};
use isms_domain::crypto::{Aad, Envelope, EnvelopeHeader, KeyKind, KeyRef};
use zeroize::Zeroizing;

use super::dek::Dek;
use super::{CryptoError, random_nonce};

/// Encrypts `plaintext` under the data key `key_ref` (whose material is
/// `dek`), bound to `aad`. The caller has checked that the version may
/// encrypt (`KeyRing::for_encrypt`) and counted the use.
pub fn seal(
    dek: &Dek,
    key_ref: &KeyRef,
    aad: &Aad,
    plaintext: &[u8],
) -> Result<Envelope, CryptoError> {
    if key_ref.tenant != aad.tenant() {
        return Err(CryptoError::TenantMismatch);
    }
    let nonce = random_nonce()?;
    seal_raw(
        dek,
        EnvelopeHeader::data_key(key_ref),
        aad,
        plaintext,
        nonce,
    )
}

/// `seal` with a caller-chosen nonce, for the committed test vectors only.
/// Reusing a nonce under one key destroys GCM's confidentiality and
/// integrity, so production code must never call this.
#[doc(hidden)]
pub fn seal_with_nonce_for_test_vectors(
    dek: &Dek,
    key_ref: &KeyRef,
    aad: &Aad,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Envelope, CryptoError> {
    if key_ref.tenant != aad.tenant() {
        return Err(CryptoError::TenantMismatch);
    }
    seal_raw(
        dek,
        EnvelopeHeader::data_key(key_ref),
        aad,
        plaintext,
        nonce,
    )
}

/// Decrypts a data-key envelope. `dek` must be the key the envelope names
/// (`envelope.key_ref(tenant)`); any mismatch of key, AAD or bytes is
/// `Unauthentic`. The plaintext comes back in zeroizing memory.
pub fn open(dek: &Dek, envelope: &Envelope, aad: &Aad) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if envelope.header().kind != KeyKind::DataKey {
        return Err(CryptoError::Malformed);
    }
    open_raw(dek, envelope, aad)
}

pub(crate) fn seal_raw(
    dek: &Dek,
    header: EnvelopeHeader,
    aad: &Aad,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Envelope, CryptoError> {
    if u32::try_from(plaintext.len()).is_err() {
        return Err(CryptoError::TooLarge);
    }
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    let tag = dek
        .cipher()?
        .encrypt_in_place_detached(&Nonce::from(nonce), &aad.bind(&header), &mut buf)
        // aes-gcm fails only past its per-message length limit (~64 GiB).
        .map_err(|_| CryptoError::TooLarge)?;
    buf.extend_from_slice(&tag);
    Ok(Envelope::from_parts(header, nonce, buf)?)
}

pub(crate) fn open_raw(
    dek: &Dek,
    envelope: &Envelope,
    aad: &Aad,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let sealed = envelope.sealed();
    let ct_len = sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::Malformed)?;
    let (ct, tag) = sealed.split_at(ct_len);
    // Arrays, not `from_slice`, so a length mistake is an error, not a panic.
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| CryptoError::Malformed)?;
    // Decrypt in zeroizing memory: the plaintext, and whatever the buffer
    // holds when the tag fails, is wiped when it is dropped.
    let mut buf = Zeroizing::new(ct.to_vec());
    dek.cipher()?
        .decrypt_in_place_detached(
            &Nonce::from(*envelope.nonce()),
            &aad.bind(envelope.header()),
            &mut buf,
            &Tag::from(tag),
        )
        .map_err(|_| CryptoError::Unauthentic)?;
    Ok(buf)
}
