//! Tokens: access-token claims, refresh-token records and signing-key
//! records. The cryptography lives in the infrastructure crate; these are
//! the shapes and rules it works with.

use serde::{Deserialize, Serialize};

use crate::ids::{SessionId, TenantId, UserId};
use crate::role::Role;
use crate::time::Timestamp;

/// Claims of an access token (a JWT signed with Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: UserId,
    /// The tenant.
    pub tid: TenantId,
    pub role: Role,
    /// The session; checked server-side on every request.
    pub sid: SessionId,
    pub jti: uuid::Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Authentication methods (RFC 8176): `["pwd"]` or `["pwd","otp"]`.
    #[serde(default)]
    pub amr: Vec<String>,
}

/// A refresh token as stored: only its SHA-256 hash, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: uuid::Uuid,
    pub session_id: SessionId,
    pub token_hash: [u8; 32],
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when the token was exchanged for its successor; presenting it
    /// again is reuse (RFC 9700 §4.14) and revokes the whole family.
    pub rotated_at: Option<Timestamp>,
}

impl RefreshTokenRecord {
    /// A new live token of `session`'s family; it lives as long as the
    /// session may.
    pub fn issue(session: &crate::session::Session, token_hash: [u8; 32], now: Timestamp) -> Self {
        Self {
            id: uuid::Uuid::now_v7(),
            session_id: session.id,
            token_hash,
            created_at: now,
            expires_at: session.expires_at,
            rotated_at: None,
        }
    }
}

impl std::fmt::Debug for RefreshTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenRecord")
            .field("id", &self.id)
            .field("session_id", &self.session_id)
            .field("expires_at", &self.expires_at)
            .field("rotated_at", &self.rotated_at)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 token-signing key as stored: the private half wrapped under
/// the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub wrapped_private_key: Vec<u8>,
    pub created_at: Timestamp,
    /// No longer signs from this moment.
    pub retired_at: Option<Timestamp>,
    /// No longer verifies (nor appears in the JWKS) from this moment: the
    /// retirement time plus the longest access-token lifetime and leeway.
    pub verify_until: Option<Timestamp>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .finish_non_exhaustive()
    }
}

impl SigningKeyRecord {
    pub fn signs(&self) -> bool {
        self.retired_at.is_none()
    }

    pub fn verifies_at(&self, now: Timestamp) -> bool {
        self.verify_until.is_none_or(|until| now < until)
    }
}

/// Additional authenticated data binding a wrapped signing key to its id,
/// so a wrapped key cannot be swapped into another row.
pub fn signing_key_aad(kid: &str) -> Vec<u8> {
    format!("isms:signing-key:{kid}").into_bytes()
}
