//! Row types for sessions, refresh tokens and signing keys.

use chrono::{DateTime, Utc};
use isms_domain::auth::{RefreshTokenRecord, SigningKeyRecord};
use isms_domain::ports::RepoError;
use isms_domain::session::Session;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
    mfa_verified_at: Option<DateTime<Utc>>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            user_id: r.user_id.into(),
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            ip: r.ip,
            user_agent: r.user_agent,
            revoked_at: r.revoked_at,
            mfa_verified_at: r.mfa_verified_at,
        }
    }
}

/// A refresh token joined with its session (columns prefixed `rt_`).
#[derive(sqlx::FromRow)]
pub(crate) struct RefreshWithSessionRow {
    rt_id: Uuid,
    rt_token_hash: Vec<u8>,
    rt_created_at: DateTime<Utc>,
    rt_expires_at: DateTime<Utc>,
    rt_rotated_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    session: SessionRow,
}

impl TryFrom<RefreshWithSessionRow> for (RefreshTokenRecord, Session) {
    type Error = RepoError;
    fn try_from(r: RefreshWithSessionRow) -> Result<Self, Self::Error> {
        let token_hash: [u8; 32] = r.rt_token_hash.as_slice().try_into().map_err(|_| {
            RepoError::Internal("stored refresh-token hash has the wrong length".into())
        })?;
        let session: Session = r.session.into();
        Ok((
            RefreshTokenRecord {
                id: r.rt_id,
                session_id: session.id,
                token_hash,
                created_at: r.rt_created_at,
                expires_at: r.rt_expires_at,
                rotated_at: r.rt_rotated_at,
            },
            session,
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    kid: String,
    public_key: Vec<u8>,
    wrapped_private_key: Vec<u8>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    verify_until: Option<DateTime<Utc>>,
}

impl From<SigningKeyRow> for SigningKeyRecord {
    fn from(r: SigningKeyRow) -> Self {
        SigningKeyRecord {
            kid: r.kid,
            public_key: r.public_key,
            wrapped_private_key: r.wrapped_private_key,
            created_at: r.created_at,
            retired_at: r.retired_at,
            verify_until: r.verify_until,
        }
    }
}
