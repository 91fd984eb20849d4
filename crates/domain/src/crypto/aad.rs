//! Associated data: binds every ciphertext to its place, so a ciphertext
//! copied to another row, column, tenant or purpose fails authentication
//! instead of decrypting in the wrong context.
//!
//! Canonical encoding (AAD format 1), the exact bytes given to AES-GCM:
//!
//! ```text
//! key header (7)   format version, key kind, classification, key version
//! purpose (1)      0x01 field, 0x02 service, 0x03 subject
//! tenant (16)      uuid bytes
//! fields           purpose-specific, each variable part as
//!                  u64 big-endian length ‖ bytes
//!   field:    table, column, row id
//!   service:  0x00 (no context) | 0x01 ‖ context
//!   subject:  subject id, purpose label
//! ```
//!
//! Fixed-size parts need no length; every variable part is length-prefixed,
//! so no two different inputs encode to the same bytes (`("ab","c")` and
//! `("a","bc")` differ). u64 lengths cannot overflow on any platform, so
//! construction never fails.

use super::envelope::{EnvelopeHeader, KEY_HEADER_LEN};
use super::subject::SubjectId;
use crate::ids::TenantId;

const PURPOSE_FIELD: u8 = 0x01;
const PURPOSE_SERVICE: u8 = 0x02;
const PURPOSE_SUBJECT: u8 = 0x03;

/// The context a ciphertext belongs to, without the envelope header (which
/// is known only when sealing or opening and is added by `bind`).
#[derive(Clone, PartialEq, Eq)]
pub struct Aad {
    tenant: TenantId,
    encoded: Vec<u8>,
}

impl std::fmt::Debug for Aad {
    // Row ids and caller contexts may be personal data: show the tenant only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aad")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

fn push_lp(out: &mut Vec<u8>, part: &[u8]) {
    // usize is at most 64 bits on every target Rust supports.
    out.extend_from_slice(&(part.len() as u64).to_be_bytes());
    out.extend_from_slice(part);
}

impl Aad {
    fn start(tenant: TenantId, purpose: u8, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(17 + capacity);
        out.push(purpose);
        out.extend_from_slice(tenant.as_uuid().as_bytes());
        out
    }

    /// A database field: `table`.`column` of the row `row_id`.
    pub fn field(tenant: TenantId, table: &str, column: &str, row_id: &str) -> Self {
        let mut out = Self::start(
            tenant,
            PURPOSE_FIELD,
            24 + table.len() + column.len() + row_id.len(),
        );
        push_lp(&mut out, table.as_bytes());
        push_lp(&mut out, column.as_bytes());
        push_lp(&mut out, row_id.as_bytes());
        Self {
            tenant,
            encoded: out,
        }
    }

    /// The public encryption API: `context` is whatever the caller chose
    /// to bind (Vault's "context"); `None` and `Some(b"")` differ.
    pub fn service(tenant: TenantId, context: Option<&[u8]>) -> Self {
        let mut out = Self::start(tenant, PURPOSE_SERVICE, 9 + context.map_or(0, <[u8]>::len));
        match context {
            None => out.push(0x00),
            Some(c) => {
                out.push(0x01);
                push_lp(&mut out, c);
            }
        }
        Self {
            tenant,
            encoded: out,
        }
    }

    /// Data sealed under one data subject's key, for `purpose` (e.g.
    /// `"contact.email"`).
    pub fn subject(tenant: TenantId, subject: &SubjectId, purpose: &str) -> Self {
        let mut out = Self::start(
            tenant,
            PURPOSE_SUBJECT,
            16 + subject.as_str().len() + purpose.len(),
        );
        push_lp(&mut out, subject.as_str().as_bytes());
        push_lp(&mut out, purpose.as_bytes());
        Self {
            tenant,
            encoded: out,
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The bytes given to AES-GCM: envelope key header ‖ context.
    pub fn bind(&self, header: &EnvelopeHeader) -> Vec<u8> {
        let mut out = Vec::with_capacity(KEY_HEADER_LEN + self.encoded.len());
        out.extend_from_slice(&header.to_bytes());
        out.extend_from_slice(&self.encoded);
        out
    }
}
