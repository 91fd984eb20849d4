//! Multi-factor authentication state: a user's TOTP enrolment, single-use
//! recovery codes, the short-lived challenge between the password step and
//! the second factor, and the step-up rule for sensitive actions.

use std::time::Duration;

use crate::ids::{TenantId, UserId};
use crate::time::Timestamp;

/// Number of recovery codes issued at enrolment.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// How long a password-verified login may wait for its second factor.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// A user's TOTP secret, stored wrapped under the master key. Pending
/// until the user proves possession with a first code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub secret_wrapped: Vec<u8>,
    pub created_at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
    /// The newest time step accepted so far (replay protection).
    pub last_step: Option<i64>,
}

impl TotpEnrolment {
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// The associated data binding a wrapped TOTP secret to its owner: a
/// secret copied to another account fails to unwrap.
pub fn totp_secret_aad(tenant: TenantId, user: UserId) -> Vec<u8> {
    format!("isms:totp:v1:{tenant}:{user}").into_bytes()
}

/// A password-verified login waiting for its second factor. Only the
/// SHA-256 of the token handed to the client is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub token_hash: [u8; 32],
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Why a sensitive action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StepUpDenied {
    #[error("multi-factor authentication must be enrolled first")]
    EnrolmentRequired,
    #[error("a recent second-factor verification is required")]
    StepUpRequired,
}

/// Whether a session may perform a sensitive action: its second factor
/// must have been verified within `window`.
pub fn check_step_up(
    mfa_enrolled: bool,
    mfa_verified_at: Option<Timestamp>,
    now: Timestamp,
    window: Duration,
) -> Result<(), StepUpDenied> {
    if !mfa_enrolled {
        return Err(StepUpDenied::EnrolmentRequired);
    }
    match mfa_verified_at {
        Some(at) if at <= now && (now - at).to_std().is_ok_and(|age| age <= window) => Ok(()),
        _ => Err(StepUpDenied::StepUpRequired),
    }
}

/// Authentication methods references (RFC 8176) for a session.
pub fn amr(mfa_verified: bool) -> Vec<String> {
    if mfa_verified {
        vec!["pwd".into(), "otp".into()]
    } else {
        vec!["pwd".into()]
    }
}

/// Recovery codes: 10 groups of base32 text, shown once; stored as
/// SHA-256 of the normalised code (they carry 60 random bits, so a fast
/// hash suffices, as for API tokens).
pub mod recovery {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

    /// Formats 8 random bytes (60 bits used) as `xxxx-xxxx-xxxx`.
    pub fn format(random: [u8; 8]) -> String {
        let bits = u64::from_le_bytes(random);
        let chars: Vec<char> = (0..12)
            .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
            .collect();
        let s: String = chars.into_iter().collect();
        format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
    }

    /// Lower-cases and drops separators, so `ABCD EFGH-IJKM` works too;
    /// `None` when it cannot be a recovery code.
    pub fn normalize(code: &str) -> Option<String> {
        let s: String = code
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        (s.len() == 12 && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn step_up_needs_enrolment_then_a_recent_verification() {
        let now = crate::time::now();
        let w = Duration::from_secs(900);
        assert_eq!(
            check_step_up(false, Some(now), now, w),
            Err(StepUpDenied::EnrolmentRequired)
        );
        assert_eq!(
            check_step_up(true, None, now, w),
            Err(StepUpDenied::StepUpRequired)
        );
        assert!(check_step_up(true, Some(now - TimeDelta::seconds(900)), now, w).is_ok());
        assert_eq!(
            check_step_up(true, Some(now - TimeDelta::seconds(901)), now, w),
            Err(StepUpDenied::StepUpRequired)
        );
        assert_eq!(
            check_step_up(true, Some(now + TimeDelta::seconds(5)), now, w),
            Err(StepUpDenied::StepUpRequired)
        );
    }

    #[test]
    fn recovery_codes_format_and_normalise() {
        let code = recovery::format([7, 1, 2, 3, 4, 5, 6, 255]);
        assert_eq!(code.len(), 14);
        let n = recovery::normalize(&code.to_uppercase()).unwrap_or_default();
        assert_eq!(n, code.replace('-', ""));
        assert_eq!(recovery::normalize("abcd-efgh"), None);
        assert_eq!(recovery::normalize("0000-0000-0000"), None);
    }

    #[test]
    fn amr_names_the_methods_used() {
        assert_eq!(amr(false), vec!["pwd"]);
        assert_eq!(amr(true), vec!["pwd", "otp"]);
    }
}
