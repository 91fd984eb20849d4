//! Blind indexes: HMAC-SHA256 under a per-tenant index key (separate from
//! every DEK) over the normalised value, so an encrypted column can be
//! searched for equality without decrypting it.
//!
//! Truncated to 16 bytes. The trade-off: an index reveals which rows hold
//! equal values however long it is, so length does not change the
//! equality leakage; it changes the false-match rate. At 128 bits the
//! chance that any two of n distinct values collide is about n²/2^129
//! (≈ 1.5·10^-21 for a billion values), so a match can be trusted without
//! decrypting candidates, and the index costs half the storage of the full
//! 32-byte MAC. Much shorter truncations (as CipherSweet uses) would hide
//! some equality behind deliberate false positives but force every lookup
//! to decrypt and filter; we chose exact lookups.

use hmac::{Hmac, Mac};
use isms_domain::TenantId;
use isms_domain::crypto::blind::{index_input, index_key_wrap_aad, normalise};
use isms_domain::ports::KeyWrapper;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CryptoError, random_bytes};

pub const INDEX_KEY_LEN: usize = 32;
pub const BLIND_INDEX_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A tenant's blind-index key. Zeroized on drop; `Debug` prints nothing.
pub struct IndexKey(Zeroizing<[u8; INDEX_KEY_LEN]>);

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey(..)")
    }
}

impl IndexKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; INDEX_KEY_LEN]);
        random_bytes(key.as_mut())?;
        Ok(Self(key))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key: [u8; INDEX_KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// Wraps the key under the master key, bound to its tenant.
    pub fn wrap(&self, wrapper: &dyn KeyWrapper, tenant: TenantId) -> Result<Vec<u8>, CryptoError> {
        Ok(wrapper.wrap(self.0.as_ref(), &index_key_wrap_aad(tenant))?)
    }

    pub fn unwrap(
        wrapper: &dyn KeyWrapper,
        tenant: TenantId,
        wrapped: &[u8],
    ) -> Result<Self, CryptoError> {
        let bytes = wrapper.unwrap(wrapped, &index_key_wrap_aad(tenant))?;
        Self::from_bytes(&bytes)
    }
}

/// One index entry. Equality is constant-time.
#[derive(Clone, Copy, Eq)]
pub struct BlindIndexValue([u8; BLIND_INDEX_LEN]);

impl BlindIndexValue {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| CryptoError::Malformed)
    }

    pub fn as_bytes(&self) -> &[u8; BLIND_INDEX_LEN] {
        &self.0
    }
}

impl PartialEq for BlindIndexValue {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for BlindIndexValue {
    // An index entry is a pseudonym of the value: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexValue(..)")
    }
}

/// Computes one tenant's blind indexes.
pub struct BlindIndex {
    tenant: TenantId,
    key: IndexKey,
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlindIndex")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl BlindIndex {
    pub fn new(tenant: TenantId, key: IndexKey) -> Self {
        Self { tenant, key }
    }

    fn mac(&self, column: &str, value: &str) -> Result<HmacSha256, CryptoError> {
        // Keyed per call, for the same reason `Dek` builds its cipher per
        // call: the HMAC state is not zeroized on drop.
        let mut mac =
            HmacSha256::new_from_slice(self.key.0.as_ref()).map_err(|_| CryptoError::Malformed)?;
        let input = Zeroizing::new(index_input(self.tenant, column, &normalise(value)));
        mac.update(&input);
        Ok(mac)
    }

    /// The index of `value` (normalised first) in `column`.
    pub fn compute(&self, column: &str, value: &str) -> Result<BlindIndexValue, CryptoError> {
        let full = self.mac(column, value)?.finalize().into_bytes();
        let mut out = [0u8; BLIND_INDEX_LEN];
        out.copy_from_slice(&full[..BLIND_INDEX_LEN]);
        Ok(BlindIndexValue(out))
    }

    /// Whether `stored` is the index of `value` in `column`, compared in
    /// constant time.
    pub fn matches(&self, column: &str, value: &str, stored: &[u8]) -> bool {
        stored.len() == BLIND_INDEX_LEN
            && self
                .mac(column, value)
                .is_ok_and(|mac| mac.verify_truncated_left(stored).is_ok())
    }
}

/// Constant-time equality of two byte strings (the lengths are not
/// secret). `subtle` is not a dependency of this crate, so the usual
/// fold: every byte is read, and `black_box` keeps the optimiser from
/// turning the fold into an early exit.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}
