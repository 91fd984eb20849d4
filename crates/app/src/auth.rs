//! Authentication: login, refresh-token rotation with reuse detection,
//! logout, and the per-request check of access token, session and account.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use isms_domain::access_policy::AccessPolicy;
use isms_domain::auth::{AccessClaims, RefreshTokenRecord};
use isms_domain::email::Email;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::mfa::{CHALLENGE_TTL, MfaChallenge};
use isms_domain::ports::{
    AccessTokenCodec, PasswordHasher, RepoError, RotateOutcome, SessionRepository,
    TenantPolicyRepository, UserRepository,
};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::session::{Session, SessionPolicy};
use isms_domain::time::{Timestamp, now};
use isms_domain::user::{PasswordHash, User};
use isms_domain::{SessionId, TenantId, UserId};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::audit::AuditTrail;
use crate::lockout::{Lockout, Subject};
use crate::mfa::{Factor, SecondFactor};

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub session: SessionPolicy,
    /// How long an authenticated session's state may be served from memory
    /// before it is re-read (bounds staleness across instances; changes
    /// made through this instance invalidate at once).
    pub session_cache_ttl: Duration,
    /// How recent a second-factor verification sensitive actions need.
    pub step_up_window: Duration,
}

/// What the authentication service is built from.
pub struct AuthDeps {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn AccessTokenCodec>,
    pub audit: AuditTrail,
    pub factor: SecondFactor,
    pub lockout: Lockout,
    pub policies: Arc<dyn TenantPolicyRepository>,
}

/// What a successful login or refresh returns.
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: SecretString,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub session_id: SessionId,
}

/// Session state kept in memory between requests.
struct CachedSession {
    session: Session,
    user: User,
    mfa_enrolled: bool,
    /// Latest sighting, the stored value, and the last IP seen.
    seen: Mutex<Seen>,
}

struct Seen {
    last_seen: Timestamp,
    last_written: Timestamp,
    last_ip: Option<String>,
}

/// At most one `last_seen_at` write per session per minute.
const TOUCH_DEBOUNCE: Duration = Duration::from_secs(60);
/// Upper bound on cached sessions and verified tokens.
const CACHE_CAPACITY: u64 = 100_000;

#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn AccessTokenCodec>,
    audit: AuditTrail,
    factor: SecondFactor,
    lockout: Lockout,
    policies: Arc<dyn TenantPolicyRepository>,
    settings: AuthSettings,
    /// Verifying an unknown e-mail against this keeps login time the same
    /// whether or not the account exists.
    dummy_hash: PasswordHash,
    session_cache: moka::sync::Cache<SessionId, Arc<CachedSession>>,
    /// Signature checks are the costliest step; a verified token's claims
    /// are cached by the token itself, and every hit re-checks expiry.
    token_cache: moka::sync::Cache<String, Arc<AccessClaims>>,
    /// Tenants' access policies (invalidated when changed here; bounded
    /// staleness elsewhere, like sessions).
    policy_cache: moka::sync::Cache<TenantId, Arc<AccessPolicy>>,
}

/// Hashes a refresh token for storage and lookup.
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_refresh_token() -> (SecretString, [u8; 32]) {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    let token = B64URL.encode(bytes.as_ref());
    let hash = hash_refresh_token(&token);
    (SecretString::from(token), hash)
}

impl AuthService {
    pub async fn new(deps: AuthDeps, settings: AuthSettings) -> Result<Self, AppError> {
        let AuthDeps {
            users,
            sessions,
            hasher,
            tokens,
            audit,
            factor,
            lockout,
            policies,
        } = deps;
        let dummy_hash = hasher
            .hash(SecretString::from(
                B64URL.encode(uuid::Uuid::now_v7().as_bytes()),
            ))
            .await?;
        let session_cache = moka::sync::Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(settings.session_cache_ttl)
            .support_invalidation_closures()
            .build();
        let token_cache = moka::sync::Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(settings.access_ttl)
            .build();
        let policy_cache = moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(settings.session_cache_ttl)
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                users,
                sessions,
                hasher,
                tokens,
                audit,
                factor,
                lockout,
                policies,
                settings,
                dummy_hash,
                session_cache,
                token_cache,
                policy_cache,
            }),
        })
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    pub fn audit(&self) -> &AuditTrail {
        &self.inner.audit
    }

    /// Appends events that change nothing else (see `AuditTrail::record`).
    async fn record(&self, e: SecurityEvent) -> Result<(), AppError> {
        self.inner.audit.record(vec![e]).await
    }

    /// An event about a user acting within one of their sessions.
    fn session_event(
        kind: K,
        tenant: isms_domain::TenantId,
        actor: UserId,
        session: SessionId,
        meta: &RequestMeta,
    ) -> SecurityEvent {
        SecurityEvent::new(kind, Outcome::Success, meta)
            .tenant(tenant)
            .actor(actor)
            .session(session)
    }

    /// Password login. Every failure is `InvalidCredentials` and costs one
    /// Argon2 verification, whatever the reason. A locked account or a
    /// blocked client is refused before any hashing, the same way for known
    /// and unknown addresses. For an account with MFA the answer is
    /// `MfaRequired` with a single-use challenge token.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AppError> {
        self.inner.lockout.check(email, meta.ip.as_deref()).await?;
        let found = match Email::parse(email) {
            Ok(e) => self.inner.users.find_for_login(&e).await?,
            Err(_) => None,
        };
        let live = found
            .as_ref()
            .is_some_and(|a| a.user.is_active && a.user.deleted_at.is_none());
        let hash = match &found {
            Some(a) if live => &a.user.password_hash,
            _ => &self.inner.dummy_hash,
        };
        let verified = self.inner.hasher.verify(password, hash).await?;
        let (user, mfa_enrolled) = match found {
            Some(a) if live && verified => (a.user, a.mfa_enrolled),
            other => {
                let mut e = SecurityEvent::new(K::LoginFailure, Outcome::Failure, meta);
                let subject = other.map(|a| Subject {
                    tenant: a.user.tenant_id,
                    user: a.user.id,
                });
                if let Some(sub) = subject {
                    e = e.tenant(sub.tenant).target(sub.user);
                }
                self.record(e).await?;
                self.inner
                    .lockout
                    .record_failure(email, subject, meta)
                    .await?;
                return Err(AppError::InvalidCredentials);
            }
        };
        if mfa_enrolled {
            return Err(self.challenge(&user).await?);
        }
        self.inner.lockout.record_success(email).await?;
        self.start_session(user, meta, false, Vec::new()).await
    }

    /// The password step succeeded for an MFA account: a short-lived,
    /// single-use token binds the second step to this user and this
    /// password verification.
    async fn challenge(&self, user: &User) -> Result<AppError, AppError> {
        let (token, hash) = new_refresh_token();
        let now = now();
        self.inner
            .factor
            .repo()
            .create_challenge(&MfaChallenge {
                token_hash: hash,
                tenant_id: user.tenant_id,
                user_id: user.id,
                created_at: now,
                expires_at: now + CHALLENGE_TTL,
            })
            .await?;
        Ok(AppError::MfaRequired { mfa_token: token })
    }

    /// The second step of an MFA login: a TOTP or recovery code for the
    /// challenge. Wrong codes count towards the account's lockout.
    pub async fn verify_mfa(
        &self,
        mfa_token: &SecretString,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AppError> {
        let presented = mfa_token.expose_secret();
        if presented.len() != 43 || B64URL.decode(presented).is_err() {
            return Err(AppError::InvalidMfaCode);
        }
        let hash = hash_refresh_token(presented);
        let now = now();
        let Some(ch) = self.inner.factor.repo().find_challenge(&hash, now).await? else {
            return Err(AppError::InvalidMfaCode);
        };
        let user = match self.inner.users.get(ch.tenant_id, ch.user_id).await {
            Ok(u) if u.is_active && u.deleted_at.is_none() => u,
            Ok(_) | Err(RepoError::NotFound) => return Err(AppError::InvalidMfaCode),
            Err(e) => return Err(e.into()),
        };
        let email = user.email.as_str().to_owned();
        self.inner.lockout.check(&email, meta.ip.as_deref()).await?;
        let factor = self
            .inner
            .factor
            .verify(user.tenant_id, user.id, code, true, now)
            .await?;
        let Some(factor) = factor else {
            self.record(
                SecurityEvent::new(K::MfaFailed, Outcome::Failure, meta)
                    .tenant(user.tenant_id)
                    .target(user.id),
            )
            .await?;
            let subject = Subject {
                tenant: user.tenant_id,
                user: user.id,
            };
            self.inner
                .lockout
                .record_failure(&email, Some(subject), meta)
                .await?;
            return Err(AppError::InvalidMfaCode);
        };
        if !self
            .inner
            .factor
            .repo()
            .consume_challenge(&hash, now)
            .await?
        {
            return Err(AppError::InvalidMfaCode);
        }
        let mut also = Vec::new();
        if factor == Factor::RecoveryCode {
            also.push(
                SecurityEvent::new(K::RecoveryCodeUsed, Outcome::Success, meta)
                    .tenant(user.tenant_id)
                    .actor(user.id),
            );
        }
        self.inner.lockout.record_success(&email).await?;
        self.start_session(user, meta, true, also).await
    }

    async fn start_session(
        &self,
        user: User,
        meta: &RequestMeta,
        mfa_verified: bool,
        mut events: Vec<SecurityEvent>,
    ) -> Result<TokenPair, AppError> {
        let now = now();
        let mut session = Session::start(
            user.tenant_id,
            user.id,
            meta.ip.clone(),
            meta.user_agent.as_deref(),
            &self.inner.settings.session,
            now,
        );
        if mfa_verified {
            session.mfa_verified_at = Some(now);
        }
        let (refresh, refresh_hash) = new_refresh_token();
        let record = RefreshTokenRecord::issue(&session, refresh_hash, now);
        events.push(
            Self::session_event(K::LoginSuccess, user.tenant_id, user.id, session.id, meta)
                .details(serde_json::json!({ "amr": isms_domain::mfa::amr(mfa_verified) })),
        );
        let sessions = &self.inner.sessions;
        self.inner
            .audit
            .change(events, async |audit| {
                sessions.create(&session, &record, audit).await
            })
            .await
            // The account was deleted after its password was checked: the
            // same answer as any refused login, never a 404.
            .map_err(|e| match e {
                AppError::NotFound => AppError::InvalidCredentials,
                other => other,
            })?;
        // The session's transaction stamped `last_login_at`: cached copies
        // of this account (its other sessions) are stale now.
        self.invalidate_user(user.id);
        self.issue(&user, &session, refresh, now)
    }

    fn issue(
        &self,
        user: &User,
        session: &Session,
        refresh: SecretString,
        now: Timestamp,
    ) -> Result<TokenPair, AppError> {
        let s = &self.inner.settings;
        let iat = now.timestamp();
        let ttl = i64::try_from(s.access_ttl.as_secs()).unwrap_or(1800);
        let claims = AccessClaims {
            iss: s.issuer.clone(),
            aud: s.audience.clone(),
            sub: user.id,
            tid: user.tenant_id,
            role: user.role,
            sid: session.id,
            jti: uuid::Uuid::now_v7(),
            iat,
            nbf: iat,
            exp: iat + ttl,
            amr: isms_domain::mfa::amr(session.mfa_verified_at.is_some()),
        };
        let access_token = self
            .inner
            .tokens
            .sign(&claims)
            .map_err(|e| AppError::Internal(format!("signing access token: {e}")))?;
        let refresh_left = (session.expires_at - now).num_seconds().max(0);
        Ok(TokenPair {
            access_token,
            refresh_token: refresh,
            expires_in: s.access_ttl.as_secs(),
            refresh_expires_in: u64::try_from(refresh_left).unwrap_or(0),
            session_id: session.id,
        })
    }

    /// Exchanges a refresh token for a new pair. The presented token dies
    /// at once; presenting it again revokes its whole family.
    pub async fn refresh(
        &self,
        token: &SecretString,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AppError> {
        let presented = token.expose_secret();
        if presented.len() != 43 || B64URL.decode(presented).is_err() {
            return Err(AppError::Unauthenticated);
        }
        let hash = hash_refresh_token(presented);
        let Some((_, session)) = self.inner.sessions.find_refresh(&hash).await? else {
            return Err(AppError::Unauthenticated);
        };
        let now = now();
        let user = match self
            .inner
            .users
            .get(session.tenant_id, session.user_id)
            .await
        {
            Ok(u) if u.is_active => Some(u),
            Ok(_) | Err(RepoError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let (successor, successor_hash) = new_refresh_token();
        let record = RefreshTokenRecord::issue(&session, successor_hash, now);
        let usable = session
            .check(session.last_seen_at, now, &self.inner.settings.session)
            .is_ok()
            && user.is_some();
        if !usable {
            return Err(AppError::Unauthenticated);
        }
        let Some(user) = user else {
            return Err(AppError::Unauthenticated);
        };
        let refreshed =
            Self::session_event(K::TokenRefreshed, user.tenant_id, user.id, session.id, meta);
        let records = self
            .inner
            .audit
            .prepare(std::slice::from_ref(&refreshed))
            .await?;
        match self
            .inner
            .sessions
            .rotate_refresh(&hash, &record, now, &records)
            .await?
        {
            RotateOutcome::Rotated => self.inner.audit.committed(vec![refreshed]),
            RotateOutcome::Reused => {
                self.invalidate_session(session.id);
                // The family is revoked already; its record follows.
                self.record(
                    SecurityEvent::new(K::RefreshTokenReuse, Outcome::Denied, meta)
                        .tenant(session.tenant_id)
                        .target(session.user_id)
                        .session(session.id)
                        .details(serde_json::json!({ "action": "session_family_revoked" })),
                )
                .await?;
                return Err(AppError::Unauthenticated);
            }
            RotateOutcome::Invalid => return Err(AppError::Unauthenticated),
        }
        self.inner
            .sessions
            .touch(session.tenant_id, session.id, now)
            .await?;
        self.issue(&user, &session, successor, now)
    }

    /// Resolves a bearer token to the caller, checking signature, claims,
    /// session (revocation, expiry, idle timeout) and account state.
    pub async fn authenticate(
        &self,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<Principal, AppError> {
        let now = now();
        let claims = self.verified_claims(token, now).await?;
        let cached = self.session_state(&claims).await?;
        let (last_seen, write, ip_changed) = {
            let mut seen = cached
                .seen
                .lock()
                .map_err(|_| AppError::Internal("session cache lock poisoned".into()))?;
            let last_seen = seen.last_seen;
            seen.last_seen = now;
            let write = (now - seen.last_written).to_std().unwrap_or_default() >= TOUCH_DEBOUNCE;
            if write {
                seen.last_written = now;
            }
            let ip_changed = match (&meta.ip, &seen.last_ip) {
                (Some(new), Some(old)) if new != old => Some((old.clone(), new.clone())),
                _ => None,
            };
            if meta.ip.is_some() {
                seen.last_ip.clone_from(&meta.ip);
            }
            (last_seen, write, ip_changed)
        };
        if cached
            .session
            .check(last_seen, now, &self.inner.settings.session)
            .is_err()
            || !cached.user.is_active
            || cached.user.deleted_at.is_some()
        {
            self.invalidate_session(claims.sid);
            return Err(AppError::Unauthenticated);
        }
        if write {
            self.inner
                .sessions
                .touch(claims.tid, claims.sid, now)
                .await?;
        }
        if let Some((old, new)) = ip_changed {
            self.record(
                SecurityEvent::new(K::SessionIpChanged, Outcome::Success, meta)
                    .tenant(claims.tid)
                    .actor(claims.sub)
                    .session(claims.sid)
                    .details(serde_json::json!({ "previous_ip": old, "ip": new })),
            )
            .await?;
        }
        let policy = self.access_policy(claims.tid).await?;
        let ip = meta.ip.as_deref().and_then(|ip| ip.parse().ok());
        if let Err(constraint) = policy.check(cached.user.role, ip, now) {
            self.record(
                SecurityEvent::new(K::AccessDenied, Outcome::Denied, meta)
                    .tenant(claims.tid)
                    .actor(claims.sub)
                    .session(claims.sid)
                    .details(serde_json::json!({
                        "reason": "access_denied_context",
                        "constraint": constraint.as_str(),
                        "role": cached.user.role.as_str(),
                    })),
            )
            .await?;
            return Err(AppError::ContextDenied(constraint.as_str()));
        }
        Ok(Principal {
            user_id: cached.user.id,
            tenant_id: cached.user.tenant_id,
            role: cached.user.role,
            session_id: claims.sid,
            password_must_change: cached.user.password_must_change,
            mfa_enrolled: cached.mfa_enrolled,
            mfa_verified_at: cached.session.mfa_verified_at,
            mfa_required: policy.requires_mfa(cached.user.role),
        })
    }

    /// A tenant's access policy (the empty policy when none is stored).
    pub async fn access_policy(&self, tenant: TenantId) -> Result<Arc<AccessPolicy>, AppError> {
        if let Some(p) = self.inner.policy_cache.get(&tenant) {
            return Ok(p);
        }
        let policy = Arc::new(
            self.inner
                .policies
                .access_policy(tenant)
                .await?
                .unwrap_or_default(),
        );
        self.inner.policy_cache.insert(tenant, policy.clone());
        Ok(policy)
    }

    /// Drops a tenant's cached policy (after a change).
    pub fn invalidate_policy(&self, tenant: TenantId) {
        self.inner.policy_cache.invalidate(&tenant);
    }

    /// Sensitive actions need a second factor verified within the step-up
    /// window.
    pub fn require_step_up(&self, who: &Principal) -> Result<(), AppError> {
        Ok(who.require_step_up(now(), self.inner.settings.step_up_window)?)
    }

    pub fn lockout(&self) -> &Lockout {
        &self.inner.lockout
    }

    async fn verified_claims(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Arc<AccessClaims>, AppError> {
        if let Some(c) = self.inner.token_cache.get(token) {
            // The cache never outlives expiry: check it on every hit.
            let leeway = 60;
            if now.timestamp() < c.exp + leeway {
                return Ok(c);
            }
            self.inner.token_cache.invalidate(token);
            return Err(AppError::Unauthenticated);
        }
        let claims = Arc::new(
            self.inner
                .tokens
                .verify(token, now)
                .await
                .map_err(|_| AppError::Unauthenticated)?,
        );
        self.inner
            .token_cache
            .insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    async fn session_state(&self, claims: &AccessClaims) -> Result<Arc<CachedSession>, AppError> {
        if let Some(c) = self.inner.session_cache.get(&claims.sid) {
            if c.user.id == claims.sub && c.session.tenant_id == claims.tid {
                return Ok(c);
            }
            return Err(AppError::Unauthenticated);
        }
        let session = match self.inner.sessions.get(claims.tid, claims.sid).await {
            Ok(s) => s,
            Err(RepoError::NotFound) => return Err(AppError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        if session.user_id != claims.sub {
            return Err(AppError::Unauthenticated);
        }
        let user = match self.inner.users.get(claims.tid, claims.sub).await {
            Ok(u) => u,
            Err(RepoError::NotFound) => return Err(AppError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let mfa_enrolled = self
            .inner
            .factor
            .is_enrolled(claims.tid, claims.sub)
            .await?;
        let cached = Arc::new(CachedSession {
            mfa_enrolled,
            seen: Mutex::new(Seen {
                last_seen: session.last_seen_at,
                last_written: session.last_seen_at,
                last_ip: session.ip.clone(),
            }),
            session,
            user,
        });
        self.inner.session_cache.insert(claims.sid, cached.clone());
        Ok(cached)
    }

    /// Checks a permission; a denial is a security event.
    pub async fn authorize(
        &self,
        who: &Principal,
        permission: Permission,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        if who.can(permission) {
            return Ok(());
        }
        self.record(
            SecurityEvent::new(K::AccessDenied, Outcome::Denied, meta)
                .tenant(who.tenant_id)
                .actor(who.user_id)
                .session(who.session_id)
                .details(serde_json::json!({ "permission": permission.as_str(), "role": who.role.as_str() })),
        )
        .await?;
        Err(AppError::Forbidden(permission.as_str()))
    }

    /// Records a denial that a service decided (the caller held the route's
    /// permission but not one the operation needed).
    pub async fn record_denial(
        &self,
        who: &Principal,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        self.record(
            SecurityEvent::new(K::AccessDenied, Outcome::Denied, meta)
                .tenant(who.tenant_id)
                .actor(who.user_id)
                .session(who.session_id)
                .details(serde_json::json!({ "permission": reason, "role": who.role.as_str() })),
        )
        .await
    }

    /// The public keys that verify access tokens (JWKS).
    pub fn jwks(&self) -> serde_json::Value {
        self.inner.tokens.jwks()
    }

    /// The account behind a cached session, if cached.
    pub fn cached_user(&self, id: SessionId) -> Option<User> {
        self.inner.session_cache.get(&id).map(|c| c.user.clone())
    }

    /// Drops a session's cached state (after revocation).
    pub fn invalidate_session(&self, id: SessionId) {
        self.inner.session_cache.invalidate(&id);
    }

    /// Drops cached state of every session of a user (after a change to
    /// the account).
    pub fn invalidate_user(&self, user: UserId) {
        let _ = self
            .inner
            .session_cache
            .invalidate_entries_if(move |_, c| c.user.id == user);
    }

    pub async fn logout(&self, who: &Principal, meta: &RequestMeta) -> Result<(), AppError> {
        let event =
            Self::session_event(K::Logout, who.tenant_id, who.user_id, who.session_id, meta);
        let sessions = &self.inner.sessions;
        self.inner
            .audit
            .change(vec![event], async |audit| {
                sessions
                    .revoke(who.tenant_id, who.session_id, now(), audit)
                    .await
            })
            .await?;
        self.invalidate_session(who.session_id);
        Ok(())
    }

    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<Session>, AppError> {
        Ok(self
            .inner
            .sessions
            .list_live(who.tenant_id, who.user_id, now())
            .await?)
    }

    /// Revokes one of the caller's own sessions, or any session of the
    /// tenant for holders of `sessions:revoke_any`. Others' sessions are
    /// 404 to everyone else, as if they did not exist.
    pub async fn revoke_session(
        &self,
        who: &Principal,
        id: SessionId,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let session = self.inner.sessions.get(who.tenant_id, id).await?;
        let own = session.user_id == who.user_id;
        if !own && !who.can(isms_domain::rbac::Permission::SessionsRevokeAny) {
            return Err(AppError::NotFound);
        }
        let event = SecurityEvent::new(K::SessionRevoked, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .target(session.user_id)
            .session(id);
        let sessions = &self.inner.sessions;
        let revoked = self
            .inner
            .audit
            .change(vec![event], async |audit| {
                sessions.revoke(who.tenant_id, id, now(), audit).await
            })
            .await?;
        if !revoked {
            return Err(AppError::NotFound);
        }
        self.invalidate_session(id);
        Ok(())
    }

    /// Revokes every session of a user except `keep` (after a password
    /// change, deactivation or deletion).
    pub async fn revoke_user_sessions(
        &self,
        user: &User,
        keep: Option<SessionId>,
    ) -> Result<(), AppError> {
        // The change that caused it (password change, deactivation,
        // deletion) carries the audit record.
        self.inner
            .sessions
            .revoke_all_for_user(user.tenant_id, user.id, keep, now(), &[])
            .await?;
        self.invalidate_user(user.id);
        Ok(())
    }
}
