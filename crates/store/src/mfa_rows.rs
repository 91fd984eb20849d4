//! Row types for MFA state.

use chrono::{DateTime, Utc};
use isms_domain::mfa::{MfaChallenge, TotpEnrolment};
use isms_domain::ports::RepoError;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(crate) struct TotpRow {
    user_id: Uuid,
    tenant_id: Uuid,
    secret_wrapped: Vec<u8>,
    created_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    last_step: Option<i64>,
}

impl From<TotpRow> for TotpEnrolment {
    fn from(r: TotpRow) -> Self {
        TotpEnrolment {
            tenant_id: r.tenant_id.into(),
            user_id: r.user_id.into(),
            secret_wrapped: r.secret_wrapped,
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            last_step: r.last_step,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChallengeRow {
    token_hash: Vec<u8>,
    tenant_id: Uuid,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<ChallengeRow> for MfaChallenge {
    type Error = RepoError;
    fn try_from(r: ChallengeRow) -> Result<Self, Self::Error> {
        let token_hash: [u8; 32] = r.token_hash.as_slice().try_into().map_err(|_| {
            RepoError::Internal("stored challenge hash has the wrong length".into())
        })?;
        Ok(MfaChallenge {
            token_hash,
            tenant_id: r.tenant_id.into(),
            user_id: r.user_id.into(),
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}
