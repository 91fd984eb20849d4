//! Blind-index inputs: what is fed to the keyed hash that lets encrypted
//! columns be searched for equality (the HMAC itself lives in infra).

use unicode_normalization::UnicodeNormalization;

use crate::ids::TenantId;

/// The form values are indexed in, so that lookups match however the value
/// was typed: NFKC, trimmed, lower-cased, inner whitespace runs collapsed
/// to one space. Two values that normalise equal are indistinguishable in
/// the index by design.
pub fn normalise(value: &str) -> String {
    let folded: String = value.nfkc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical HMAC input: tenant ‖ len ‖ column ‖ len ‖ value. The
/// column is included so equal values in different columns get unrelated
/// index entries (no cross-column linkage), and lengths keep the parts
/// unambiguous.
pub fn index_input(tenant: TenantId, column: &str, normalised: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + column.len() + normalised.len());
    out.extend_from_slice(tenant.as_uuid().as_bytes());
    for part in [column.as_bytes(), normalised.as_bytes()] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// The AAD a tenant's blind-index key is wrapped with under the master
/// key, so it cannot be swapped with another tenant's.
pub fn index_key_wrap_aad(tenant: TenantId) -> Vec<u8> {
    format!("isms:blind-index-key:v1:tenant:{tenant}").into_bytes()
}
