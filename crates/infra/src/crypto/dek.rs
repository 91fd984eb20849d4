//! Data-encryption keys: 32 random bytes, held only in zeroizing memory,
//! and their wrapping under the master key.

use aes_gcm::{Aes256Gcm, KeyInit as _};
use isms_domain::crypto::{KeyRef, dek_wrap_aad};
use isms_domain::ports::KeyWrapper;
use zeroize::Zeroizing;

use super::{CryptoError, random_bytes};

pub const DEK_LEN: usize = 32;

/// An unwrapped AES-256 data key. Not `Clone`, so copies of the material
/// stay countable (share it through `Arc`, as `DekCache` does); zeroized
/// on drop; `Debug` prints nothing of it.
pub struct Dek(Zeroizing<[u8; DEK_LEN]>);

impl std::fmt::Debug for Dek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dek(..)")
    }
}

impl Dek {
    /// A fresh key from the OS generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; DEK_LEN]);
        random_bytes(key.as_mut())?;
        Ok(Self(key))
    }

    /// Adopts existing key material (an unwrapped DEK, a test vector).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key: [u8; DEK_LEN] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The AES-GCM instance for one operation. Built per call rather than
    /// kept: the `aes` crate zeroizes its round keys only with its
    /// `zeroize` feature, which this workspace does not enable, so a
    /// long-lived expanded key would outlive the zeroized bytes.
    pub(crate) fn cipher(&self) -> Result<Aes256Gcm, CryptoError> {
        Aes256Gcm::new_from_slice(self.0.as_ref()).map_err(|_| CryptoError::Malformed)
    }

    pub(crate) fn bytes(&self) -> &[u8; DEK_LEN] {
        &self.0
    }
}

/// Wraps `dek` under the master key, bound to `key`'s id: the wrapped
/// bytes only unwrap for the same tenant, classification and version.
pub fn wrap_dek(wrapper: &dyn KeyWrapper, key: &KeyRef, dek: &Dek) -> Result<Vec<u8>, CryptoError> {
    Ok(wrapper.wrap(dek.bytes(), &dek_wrap_aad(key))?)
}

/// Unwraps a DEK stored for `key`; `Unauthentic` if it was wrapped for
/// another key slot or under another master key.
pub fn unwrap_dek(
    wrapper: &dyn KeyWrapper,
    key: &KeyRef,
    wrapped: &[u8],
) -> Result<Dek, CryptoError> {
    let bytes = wrapper.unwrap(wrapped, &dek_wrap_aad(key))?;
    Dek::from_bytes(&bytes)
}
