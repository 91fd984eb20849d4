//! Server-side sessions. Every login creates one; it is the family its
//! refresh tokens belong to, and every authenticated request checks it, so
//! logout, revocation, idle timeout and account deactivation take effect
//! at once even for unexpired access tokens.

use std::time::Duration;

use crate::ids::{SessionId, TenantId, UserId};
use crate::time::Timestamp;

pub const MAX_USER_AGENT_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// Absolute end: the refresh lifetime from login.
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub mfa_verified_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub absolute_lifetime: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionInvalid {
    #[error("session was revoked")]
    Revoked,
    #[error("session expired")]
    Expired,
    #[error("session idle for too long")]
    Idle,
}

impl Session {
    pub fn start(
        tenant_id: TenantId,
        user_id: UserId,
        ip: Option<String>,
        user_agent: Option<&str>,
        policy: &SessionPolicy,
        now: Timestamp,
    ) -> Self {
        Self {
            id: SessionId::new(),
            tenant_id,
            user_id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + policy.absolute_lifetime,
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            revoked_at: None,
            mfa_verified_at: None,
        }
    }

    /// Whether the session may still be used at `now`, given when it was
    /// last seen (which may be more recent than the stored value: stored
    /// `last_seen_at` writes are debounced).
    pub fn check(
        &self,
        last_seen: Timestamp,
        now: Timestamp,
        policy: &SessionPolicy,
    ) -> Result<(), SessionInvalid> {
        if self.revoked_at.is_some() {
            return Err(SessionInvalid::Revoked);
        }
        if now >= self.expires_at {
            return Err(SessionInvalid::Expired);
        }
        let idle = (now - last_seen.max(self.last_seen_at))
            .to_std()
            .unwrap_or_default();
        if idle > policy.idle_timeout {
            return Err(SessionInvalid::Idle);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SessionPolicy {
        SessionPolicy {
            idle_timeout: Duration::from_secs(3600),
            absolute_lifetime: Duration::from_secs(7 * 86400),
        }
    }

    #[test]
    fn lifecycle() {
        let now = crate::time::now();
        let mut s = Session::start(
            TenantId::new(),
            UserId::new(),
            None,
            Some("curl"),
            &policy(),
            now,
        );
        assert_eq!(s.check(now, now, &policy()), Ok(()));
        let later = now + Duration::from_secs(3601);
        assert_eq!(s.check(now, later, &policy()), Err(SessionInvalid::Idle));
        // A more recent in-memory sighting keeps it alive.
        assert_eq!(
            s.check(later - Duration::from_secs(10), later, &policy()),
            Ok(())
        );
        let end = now + Duration::from_secs(7 * 86400);
        assert_eq!(s.check(end, end, &policy()), Err(SessionInvalid::Expired));
        s.revoked_at = Some(now);
        assert_eq!(s.check(now, now, &policy()), Err(SessionInvalid::Revoked));
    }

    #[test]
    fn user_agent_is_bounded() {
        let ua = "x".repeat(2000);
        let s = Session::start(
            TenantId::new(),
            UserId::new(),
            None,
            Some(&ua),
            &policy(),
            crate::time::now(),
        );
        assert_eq!(s.user_agent.map(|u| u.len()), Some(MAX_USER_AGENT_CHARS));
    }
}
