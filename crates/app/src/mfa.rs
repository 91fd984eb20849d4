//! TOTP multi-factor authentication (RFC 6238): enrolment with recovery
//! codes, the second factor of a login, step-up for sensitive actions.

use std::sync::Arc;

use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::mfa::{RECOVERY_CODE_COUNT, TotpEnrolment, recovery, totp_secret_aad};
use isms_domain::ports::{KeyWrapper, MfaRepository, SessionRepository, UserRepository};
use isms_domain::principal::Principal;
use isms_domain::time::{Timestamp, now};
use isms_domain::totp::TotpSecret;
use isms_domain::{TenantId, UserId};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::audit::AuditTrail;
use crate::auth::AuthService;
use crate::lockout::{Lockout, Subject};

/// Which second factor a code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    RecoveryCode,
}

/// Checks second-factor codes against stored enrolments; shared by login
/// and the authenticated MFA endpoints.
#[derive(Clone)]
pub struct SecondFactor {
    repo: Arc<dyn MfaRepository>,
    wrapper: Arc<dyn KeyWrapper>,
}

pub fn recovery_hash(normalized: &str) -> [u8; 32] {
    Sha256::digest(normalized.as_bytes()).into()
}

impl SecondFactor {
    pub fn new(repo: Arc<dyn MfaRepository>, wrapper: Arc<dyn KeyWrapper>) -> Self {
        Self { repo, wrapper }
    }

    pub fn repo(&self) -> &Arc<dyn MfaRepository> {
        &self.repo
    }

    pub async fn is_enrolled(&self, tenant: TenantId, user: UserId) -> Result<bool, AppError> {
        Ok(self
            .repo
            .totp(tenant, user)
            .await?
            .is_some_and(|e| e.is_active()))
    }

    fn secret(&self, e: &TotpEnrolment) -> Result<TotpSecret, AppError> {
        let raw = self
            .wrapper
            .unwrap(&e.secret_wrapped, &totp_secret_aad(e.tenant_id, e.user_id))
            .map_err(|err| AppError::Internal(format!("unwrapping TOTP secret: {err}")))?;
        TotpSecret::from_bytes(raw.to_vec())
            .map_err(|err| AppError::Internal(format!("stored TOTP secret: {err}")))
    }

    /// Accepts a current TOTP code (each at most once) or an unused
    /// recovery code (`allow_recovery`). `None`: the code is wrong.
    pub async fn verify(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &str,
        allow_recovery: bool,
        at: Timestamp,
    ) -> Result<Option<Factor>, AppError> {
        let Some(enrolment) = self.repo.totp(tenant, user).await? else {
            return Ok(None);
        };
        if !enrolment.is_active() {
            return Ok(None);
        }
        let secret = self.secret(&enrolment)?;
        if let Some(step) = secret.verify(code, at.timestamp(), enrolment.last_step) {
            // The conditional write is what makes a code single-use when
            // two requests race with it.
            return Ok(self
                .repo
                .use_totp_step(tenant, user, step)
                .await?
                .then_some(Factor::Totp));
        }
        if allow_recovery && let Some(n) = recovery::normalize(code) {
            let used = self
                .repo
                .use_recovery_code(tenant, user, &recovery_hash(&n), at)
                .await?;
            return Ok(used.then_some(Factor::RecoveryCode));
        }
        Ok(None)
    }
}

/// What enrolment shows the user, once.
pub struct Enrolment {
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
}

#[derive(Clone)]
pub struct MfaService {
    factor: SecondFactor,
    sessions: Arc<dyn SessionRepository>,
    users: Arc<dyn UserRepository>,
    auth: AuthService,
    lockout: Lockout,
    audit: AuditTrail,
    issuer: String,
}

/// What the MFA service is built from.
pub struct MfaDeps {
    pub factor: SecondFactor,
    pub sessions: Arc<dyn SessionRepository>,
    pub users: Arc<dyn UserRepository>,
    pub auth: AuthService,
    pub lockout: Lockout,
    pub audit: AuditTrail,
    /// The issuer shown in authenticator apps.
    pub issuer: String,
}

impl MfaService {
    pub fn new(d: MfaDeps) -> Self {
        Self {
            factor: d.factor,
            sessions: d.sessions,
            users: d.users,
            auth: d.auth,
            lockout: d.lockout,
            audit: d.audit,
            issuer: d.issuer,
        }
    }

    fn event(kind: K, outcome: Outcome, who: &Principal, meta: &RequestMeta) -> SecurityEvent {
        SecurityEvent::new(kind, outcome, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .target(who.user_id)
            .session(who.session_id)
    }

    /// Starts (or restarts) enrolment: a new secret, stored wrapped,
    /// pending until confirmed with a code.
    pub async fn enroll(
        &self,
        who: &Principal,
        account: &str,
        meta: &RequestMeta,
    ) -> Result<Enrolment, AppError> {
        let mut raw = zeroize::Zeroizing::new(vec![0u8; 20]);
        OsRng.fill_bytes(raw.as_mut_slice());
        let secret = TotpSecret::from_bytes(raw.to_vec())
            .map_err(|e| AppError::Internal(format!("new TOTP secret: {e}")))?;
        let wrapped = self
            .factor
            .wrapper
            .wrap(
                secret.as_bytes(),
                &totp_secret_aad(who.tenant_id, who.user_id),
            )
            .map_err(|e| AppError::Internal(format!("wrapping TOTP secret: {e}")))?;
        let enrolment = TotpEnrolment {
            tenant_id: who.tenant_id,
            user_id: who.user_id,
            secret_wrapped: wrapped,
            created_at: now(),
            confirmed_at: None,
            last_step: None,
        };
        let repo = &self.factor.repo;
        self.audit
            .change(
                vec![Self::event(
                    K::MfaEnrollmentStarted,
                    Outcome::Success,
                    who,
                    meta,
                )],
                async |audit| repo.put_pending_totp(&enrolment, audit).await,
            )
            .await?;
        Ok(Enrolment {
            secret: secret.base32(),
            otpauth_uri: secret.otpauth_uri(&self.issuer, account),
        })
    }

    /// Activates the pending enrolment with a first code; returns the
    /// recovery codes (shown once, stored hashed). The session counts as
    /// MFA-verified from here.
    pub async fn confirm(
        &self,
        who: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AppError> {
        let pending = match self.factor.repo.totp(who.tenant_id, who.user_id).await? {
            Some(e) if !e.is_active() => e,
            Some(_) => return Err(AppError::Conflict("mfa_enrolled")),
            None => return Err(AppError::NotFound),
        };
        let at = now();
        let secret = self.factor.secret(&pending)?;
        let Some(step) = secret.verify(code, at.timestamp(), None) else {
            return Err(AppError::InvalidCode);
        };
        let codes: Vec<String> = (0..RECOVERY_CODE_COUNT)
            .map(|_| {
                let mut b = [0u8; 8];
                OsRng.fill_bytes(&mut b);
                recovery::format(b)
            })
            .collect();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .filter_map(|c| recovery::normalize(c))
            .map(|n| recovery_hash(&n))
            .collect();
        let repo = &self.factor.repo;
        let confirmed = self
            .audit
            .change(
                vec![Self::event(K::MfaEnrolled, Outcome::Success, who, meta)],
                async |audit| {
                    repo.confirm_totp(who.tenant_id, who.user_id, step, &hashes, at, audit)
                        .await
                },
            )
            .await?;
        if !confirmed {
            return Err(AppError::Conflict("mfa_enrolled"));
        }
        self.sessions
            .mark_mfa_verified(who.tenant_id, who.session_id, at, &[])
            .await?;
        self.auth.invalidate_user(who.user_id);
        Ok(codes)
    }

    /// Removes the second factor; needs a current TOTP code. Refused while
    /// the tenant's policy requires MFA for the caller's role.
    pub async fn disable(
        &self,
        who: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        if who.mfa_required {
            return Err(AppError::validation(
                "code",
                "mfa_required_by_policy",
                "the tenant's access policy requires MFA for your role",
            ));
        }
        self.require_code(who, code, false, meta).await?;
        let repo = &self.factor.repo;
        self.audit
            .change(
                vec![Self::event(K::MfaDisabled, Outcome::Success, who, meta)],
                async |audit| repo.delete_totp(who.tenant_id, who.user_id, audit).await,
            )
            .await?;
        self.auth.invalidate_user(who.user_id);
        Ok(())
    }

    /// Refreshes the session's second-factor verification for sensitive
    /// actions.
    pub async fn step_up(
        &self,
        who: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        if !who.mfa_enrolled {
            return Err(isms_domain::mfa::StepUpDenied::EnrolmentRequired.into());
        }
        self.require_code(who, code, true, meta).await?;
        let sessions = &self.sessions;
        self.audit
            .change(
                vec![Self::event(K::MfaStepUp, Outcome::Success, who, meta)],
                async |audit| {
                    sessions
                        .mark_mfa_verified(who.tenant_id, who.session_id, now(), audit)
                        .await
                },
            )
            .await?;
        self.auth.invalidate_session(who.session_id);
        Ok(())
    }

    async fn require_code(
        &self,
        who: &Principal,
        code: &str,
        allow_recovery: bool,
        meta: &RequestMeta,
    ) -> Result<Factor, AppError> {
        // Codes are six digits: guessing them is bounded by the same
        // lockout as passwords, even from inside a stolen session.
        let email = self
            .users
            .get(who.tenant_id, who.user_id)
            .await?
            .email
            .as_str()
            .to_owned();
        self.lockout.check(&email, meta.ip.as_deref()).await?;
        match self
            .factor
            .verify(who.tenant_id, who.user_id, code, allow_recovery, now())
            .await?
        {
            Some(f) => {
                if f == Factor::RecoveryCode {
                    self.audit
                        .record(vec![Self::event(
                            K::RecoveryCodeUsed,
                            Outcome::Success,
                            who,
                            meta,
                        )])
                        .await?;
                }
                Ok(f)
            }
            None => {
                self.audit
                    .record(vec![Self::event(K::MfaFailed, Outcome::Failure, who, meta)])
                    .await?;
                let subject = Subject {
                    tenant: who.tenant_id,
                    user: who.user_id,
                };
                self.lockout
                    .record_failure(&email, Some(subject), meta)
                    .await?;
                Err(AppError::InvalidCode)
            }
        }
    }

    pub async fn recovery_codes_left(&self, who: &Principal) -> Result<u32, AppError> {
        Ok(self
            .factor
            .repo
            .recovery_codes_left(who.tenant_id, who.user_id)
            .await?)
    }
}
