//! Authentication: login, refresh-token rotation with reuse detection,
//! logout, and the per-request check of access token, session and account.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use isms_domain::auth::{AccessClaims, RefreshTokenRecord};
use isms_domain::email::Email;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::{
    AccessTokenCodec, EventSink, PasswordHasher, RepoError, RotateOutcome, SessionRepository,
    UserRepository,
};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::session::{Session, SessionPolicy};
use isms_domain::time::{Timestamp, now};
use isms_domain::user::{PasswordHash, User};
use isms_domain::{SessionId, UserId};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::AppError;

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
    events: Arc<dyn EventSink>,
    settings: AuthSettings,
    /// Verifying an unknown e-mail against this keeps login time the same
    /// whether or not the account exists.
    dummy_hash: PasswordHash,
    session_cache: moka::sync::Cache<SessionId, Arc<CachedSession>>,
    /// Signature checks are the costliest step; a verified token's claims
    /// are cached by the token itself, and every hit re-checks expiry.
    token_cache: moka::sync::Cache<String, Arc<AccessClaims>>,
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
    pub async fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn AccessTokenCodec>,
        events: Arc<dyn EventSink>,
        settings: AuthSettings,
    ) -> Result<Self, AppError> {
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
        Ok(Self {
            inner: Arc::new(Inner {
                users,
                sessions,
                hasher,
                tokens,
                events,
                settings,
                dummy_hash,
                session_cache,
                token_cache,
            }),
        })
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    fn publish(&self, e: SecurityEvent) {
        self.inner.events.publish(e);
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
    /// Argon2 verification, whatever the reason.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        meta: &RequestMeta,
    ) -> Result<TokenPair, AppError> {
        let found = match Email::parse(email) {
            Ok(e) => self.inner.users.find_by_email(&e).await?,
            Err(_) => None,
        };
        let live = found
            .as_ref()
            .is_some_and(|u| u.is_active && u.deleted_at.is_none());
        let hash = match &found {
            Some(u) if live => &u.password_hash,
            _ => &self.inner.dummy_hash,
        };
        let verified = self.inner.hasher.verify(password, hash).await?;
        let mut user = match found {
            Some(u) if live && verified => u,
            other => {
                let mut e = SecurityEvent::new(K::LoginFailure, Outcome::Failure, meta);
                if let Some(u) = other {
                    e = e.tenant(u.tenant_id).target(u.id);
                }
                self.publish(e);
                return Err(AppError::InvalidCredentials);
            }
        };
        let now = now();
        let session = Session::start(
            user.tenant_id,
            user.id,
            meta.ip.clone(),
            meta.user_agent.as_deref(),
            &self.inner.settings.session,
            now,
        );
        let (refresh, refresh_hash) = new_refresh_token();
        let record = RefreshTokenRecord::issue(&session, refresh_hash, now);
        self.inner.sessions.create(&session, &record).await?;
        user.last_login_at = Some(now);
        self.inner.users.update(&user).await?;
        // Cached copies of this account (its other sessions) are stale now.
        self.invalidate_user(user.id);
        self.publish(Self::session_event(
            K::LoginSuccess,
            user.tenant_id,
            user.id,
            session.id,
            meta,
        ));
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
        match self
            .inner
            .sessions
            .rotate_refresh(&hash, &record, now)
            .await?
        {
            RotateOutcome::Rotated => {}
            RotateOutcome::Reused => {
                self.invalidate_session(session.id);
                self.publish(
                    SecurityEvent::new(K::RefreshTokenReuse, Outcome::Denied, meta)
                        .tenant(session.tenant_id)
                        .target(session.user_id)
                        .session(session.id)
                        .details(serde_json::json!({ "action": "session_family_revoked" })),
                );
                return Err(AppError::Unauthenticated);
            }
            RotateOutcome::Invalid => return Err(AppError::Unauthenticated),
        }
        let Some(user) = user else {
            return Err(AppError::Unauthenticated);
        };
        self.inner
            .sessions
            .touch(session.tenant_id, session.id, now)
            .await?;
        self.publish(Self::session_event(
            K::TokenRefreshed,
            user.tenant_id,
            user.id,
            session.id,
            meta,
        ));
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
            self.publish(
                SecurityEvent::new(K::SessionIpChanged, Outcome::Success, meta)
                    .tenant(claims.tid)
                    .actor(claims.sub)
                    .session(claims.sid)
                    .details(serde_json::json!({ "previous_ip": old, "ip": new })),
            );
        }
        Ok(Principal {
            user_id: cached.user.id,
            tenant_id: cached.user.tenant_id,
            role: cached.user.role,
            session_id: claims.sid,
            password_must_change: cached.user.password_must_change,
        })
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
        let cached = Arc::new(CachedSession {
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
    pub fn authorize(
        &self,
        who: &Principal,
        permission: Permission,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        if who.can(permission) {
            return Ok(());
        }
        self.publish(
            SecurityEvent::new(K::AccessDenied, Outcome::Denied, meta)
                .tenant(who.tenant_id)
                .actor(who.user_id)
                .session(who.session_id)
                .details(serde_json::json!({ "permission": permission.as_str(), "role": who.role.as_str() })),
        );
        Err(AppError::Forbidden(permission.as_str()))
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
        self.inner
            .sessions
            .revoke(who.tenant_id, who.session_id, now())
            .await?;
        self.invalidate_session(who.session_id);
        self.publish(Self::session_event(
            K::Logout,
            who.tenant_id,
            who.user_id,
            who.session_id,
            meta,
        ));
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
        if !self.inner.sessions.revoke(who.tenant_id, id, now()).await? {
            return Err(AppError::NotFound);
        }
        self.invalidate_session(id);
        self.publish(
            SecurityEvent::new(K::SessionRevoked, Outcome::Success, meta)
                .tenant(who.tenant_id)
                .actor(who.user_id)
                .target(session.user_id)
                .session(id),
        );
        Ok(())
    }

    /// Revokes every session of a user except `keep` (after a password
    /// change, deactivation or deletion).
    pub async fn revoke_user_sessions(
        &self,
        user: &User,
        keep: Option<SessionId>,
    ) -> Result<(), AppError> {
        self.inner
            .sessions
            .revoke_all_for_user(user.tenant_id, user.id, keep, now())
            .await?;
        self.invalidate_user(user.id);
        Ok(())
    }
}
