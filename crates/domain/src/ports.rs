//! Ports: what the domain needs from the outside world. Storage adapters
//! (SQLite, PostgreSQL) and infrastructure (hashing) implement them; one
//! conformance suite holds every implementation to the same behaviour.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::auth::{AccessClaims, RefreshTokenRecord, SigningKeyRecord};
use crate::email::Email;
use crate::events::SecurityEvent;
use crate::ids::{SessionId, TenantId, UserId};
use crate::page::{Page, PageRequest};
use crate::session::Session;
use crate::tenant::Tenant;
use crate::time::Timestamp;
use crate::user::{PasswordHash, User};

/// Errors every repository may report. Messages carry internal detail for
/// logs only; the HTTP layer never shows them to clients.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; names the rule (e.g. `email`).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The store cannot be reached or timed out.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}

#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Fails with `Conflict("tenant_name")` when the name is taken.
    async fn create(
        &self,
        tenant: &Tenant,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    async fn get(&self, id: TenantId) -> Result<Tenant, RepoError>;
    /// Case-insensitive lookup by name.
    async fn find_by_name(&self, name: &str) -> Result<Option<Tenant>, RepoError>;
    async fn list(&self, page: PageRequest) -> Result<Page<Tenant>, RepoError>;
    /// Soft-deletes the tenant, its users and their live sessions in one
    /// transaction; `NotFound` if it is missing or deleted already.
    async fn soft_delete(
        &self,
        id: TenantId,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
}

/// User storage. Every read and write except the server-wide e-mail lookup
/// (needed to log in) is scoped by tenant here, below the handlers, so a
/// handler cannot forget it.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Fails with `Conflict("email")` when a live user has the address.
    async fn create(
        &self,
        user: &User,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    async fn get(&self, tenant: TenantId, id: UserId) -> Result<User, RepoError>;
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        Ok(self.find_for_login(email).await?.map(|a| a.user))
    }
    /// The live account with this address, with its MFA enrolment.
    async fn find_for_login(
        &self,
        email: &Email,
    ) -> Result<Option<crate::user::LoginAccount>, RepoError>;
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<User>, RepoError>;
    /// Writes every mutable field of `user`; `NotFound` if it is missing,
    /// deleted or in another tenant.
    async fn update(
        &self,
        user: &User,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    async fn soft_delete(
        &self,
        tenant: TenantId,
        id: UserId,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
}

/// First-start provisioning, atomic across processes sharing one database.
#[async_trait]
pub trait BootstrapRepository: Send + Sync {
    async fn is_bootstrapped(&self) -> Result<bool, RepoError>;
    /// Creates `tenant` and `admin` unless the server was bootstrapped
    /// before; returns whether it did.
    async fn bootstrap(
        &self,
        tenant: &Tenant,
        admin: &User,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<bool, RepoError>;
}

/// Liveness of the store for readiness probes.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    async fn ping(&self) -> Result<(), RepoError>;
    /// The connection pool's current state (for metrics).
    fn pool_stats(&self) -> PoolStats;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("stored password hash is malformed")]
    MalformedHash,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Password hashing (Argon2id in production). Async because a hash costs
/// tens of milliseconds and must run off the request threads.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, HashError>;
    async fn verify(&self, password: SecretString, hash: &PasswordHash) -> Result<bool, HashError>;
}

/// What rotating a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live and is now replaced by the successor.
    Rotated,
    /// The token had already been rotated (or lost a concurrent race): its
    /// whole family (the session) has been revoked.
    Reused,
    /// No live token with that hash (unknown, expired or revoked).
    Invalid,
}

/// Sessions and their refresh-token families.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with its first refresh token and stamps the
    /// user's `last_login_at` with the session's start, atomically;
    /// `NotFound` when the user is gone.
    async fn create(
        &self,
        session: &Session,
        first: &RefreshTokenRecord,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    async fn get(&self, tenant: TenantId, id: SessionId) -> Result<Session, RepoError>;
    /// Live (unrevoked, unexpired) sessions of a user, newest first.
    async fn list_live(
        &self,
        tenant: TenantId,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, RepoError>;
    /// Records activity (debounced by the caller).
    async fn touch(&self, tenant: TenantId, id: SessionId, at: Timestamp) -> Result<(), RepoError>;
    /// Revokes a session and every refresh token of its family; `false`
    /// when it was missing, in another tenant or already revoked.
    async fn revoke(
        &self,
        tenant: TenantId,
        id: SessionId,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<bool, RepoError>;
    /// Revokes every live session of a user except `keep`; returns their ids.
    async fn revoke_all_for_user(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<Vec<SessionId>, RepoError>;
    /// The stored token with this hash and its session, if any.
    async fn find_refresh(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(RefreshTokenRecord, Session)>, RepoError>;
    /// Atomically marks the presented token rotated and stores its
    /// successor; exactly one of several concurrent callers succeeds, the
    /// others get `Reused` and the family is revoked. `audit` is appended
    /// in the same transaction only when the token was rotated.
    async fn rotate_refresh(
        &self,
        presented: &[u8; 32],
        successor: &RefreshTokenRecord,
        now: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<RotateOutcome, RepoError>;
    /// Records a second-factor verification for the session (login with
    /// MFA or step-up).
    async fn mark_mfa_verified(
        &self,
        tenant: TenantId,
        id: SessionId,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
}

/// TOTP enrolments, recovery codes and login challenges.
#[async_trait]
pub trait MfaRepository: Send + Sync {
    async fn totp(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<crate::mfa::TotpEnrolment>, RepoError>;
    /// Stores a pending enrolment, replacing an earlier pending one;
    /// `Conflict("mfa_enrolled")` when an active one exists.
    async fn put_pending_totp(
        &self,
        e: &crate::mfa::TotpEnrolment,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    /// Activates the pending enrolment with the step of its first code and
    /// replaces the recovery codes, atomically; `false` when there is no
    /// pending enrolment or the step is not newer than the last one.
    async fn confirm_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        step: i64,
        recovery_hashes: &[[u8; 32]],
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<bool, RepoError>;
    /// Records `step` as used on the active enrolment iff it is newer than
    /// every step used before; `false` on replay.
    async fn use_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: i64,
    ) -> Result<bool, RepoError>;
    /// Removes the enrolment (pending or active) and the recovery codes.
    async fn delete_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    /// Spends an unused recovery code; `false` when none matches.
    async fn use_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        hash: &[u8; 32],
        at: Timestamp,
    ) -> Result<bool, RepoError>;
    /// Unused recovery codes left.
    async fn recovery_codes_left(&self, tenant: TenantId, user: UserId) -> Result<u32, RepoError>;
    async fn create_challenge(&self, c: &crate::mfa::MfaChallenge) -> Result<(), RepoError>;
    /// The unused, unexpired challenge with this hash (server-wide: the
    /// caller is not authenticated yet).
    async fn find_challenge(
        &self,
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<crate::mfa::MfaChallenge>, RepoError>;
    /// Spends a challenge; exactly one of concurrent callers gets `true`.
    async fn consume_challenge(&self, hash: &[u8; 32], at: Timestamp) -> Result<bool, RepoError>;
}

/// Per-tenant security policy (contextual access, MFA requirements).
#[async_trait]
pub trait TenantPolicyRepository: Send + Sync {
    async fn access_policy(
        &self,
        tenant: TenantId,
    ) -> Result<Option<crate::access_policy::AccessPolicy>, RepoError>;
    async fn put_access_policy(
        &self,
        tenant: TenantId,
        policy: &crate::access_policy::AccessPolicy,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
}

/// Token-signing keys (server-wide).
#[async_trait]
pub trait SigningKeyRepository: Send + Sync {
    async fn insert(
        &self,
        key: &SigningKeyRecord,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
    /// Keys that still verify at `now`, newest first.
    async fn list_verifying(&self, now: Timestamp) -> Result<Vec<SigningKeyRecord>, RepoError>;
    /// Retires every signing key except `keep`.
    async fn retire_others(
        &self,
        keep: &str,
        at: Timestamp,
        verify_until: Timestamp,
    ) -> Result<(), RepoError>;
}

#[derive(Debug, thiserror::Error)]
pub enum KeyWrapError {
    #[error("wrapped key failed authentication (wrong master key or tampered data)")]
    Unauthentic,
    #[error("wrapped key is malformed")]
    Malformed,
}

/// Wraps key material under the master key (AES-256-GCM with AAD). A
/// cloud KMS can implement this port later.
pub trait KeyWrapper: Send + Sync {
    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyWrapError>;
    fn unwrap(
        &self,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyWrapError>;
}

/// Receives security events. Must not block: publishing happens on the
/// request path.
pub trait EventSink: Send + Sync {
    fn publish(&self, event: SecurityEvent);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not allowed")]
    Algorithm,
    #[error("token was signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not yet valid")]
    NotYetValid,
    #[error("token issuer is wrong")]
    Issuer,
    #[error("token audience is wrong")]
    Audience,
    #[error("no signing key is available")]
    NoSigningKey,
}

/// Signs and verifies access tokens (Ed25519 JWTs in production).
#[async_trait]
pub trait AccessTokenCodec: Send + Sync {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError>;
    /// Verifies signature, algorithm, issuer, audience and time claims.
    async fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError>;
    /// The public verification keys as a JWK Set.
    fn jwks(&self) -> serde_json::Value;
}

#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    /// The backend cannot be reached, timed out, or answered nonsense.
    #[error("limiter backend unavailable: {0}")]
    Unavailable(String),
}

/// Shared counters behind rate limits and brute-force lockout: Redis when
/// configured (one budget for every instance), in process otherwise or
/// while Redis is down. Keys are namespaced by the caller; every operation
/// is one atomic step (one round trip in Redis).
#[async_trait]
pub trait LimiterStore: Send + Sync {
    /// One GCRA step for `key` (see `ratelimit::gcra`).
    async fn check_rate(
        &self,
        key: &str,
        quota: crate::ratelimit::Quota,
    ) -> Result<crate::ratelimit::Decision, LimiterError>;
    /// Counts one failure under `key` and returns the count; the count
    /// expires `window` after the first failure it includes.
    async fn add_failure(
        &self,
        key: &str,
        window: std::time::Duration,
    ) -> Result<u32, LimiterError>;
    /// Sets a lock under `key` for `ttl`.
    async fn lock(&self, key: &str, ttl: std::time::Duration) -> Result<(), LimiterError>;
    /// How long the lock under `key` still holds, if it does.
    async fn locked_for(&self, key: &str) -> Result<Option<std::time::Duration>, LimiterError>;
    /// Removes `key` (a counter or a lock).
    async fn clear(&self, key: &str) -> Result<(), LimiterError>;
    /// The backend answering now: `redis` or `in-process`.
    fn backend(&self) -> &'static str;
}

/// A log's head: how many entries it holds and the root over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub log_id: crate::audit::LogId,
    pub size: u64,
    pub root_hash: crate::audit::Hash,
}

/// A signed checkpoint as stored: the parsed values and the full note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub log_id: crate::audit::LogId,
    pub checkpoint: crate::audit::Checkpoint,
    pub key_id: String,
    pub note: String,
}

/// Filters of the audit query API; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub event_type: Option<String>,
    pub actor_user_id: Option<UserId>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: Option<crate::events::Outcome>,
    pub min_risk: Option<u8>,
    pub flag: Option<crate::audit::ComplianceFlag>,
    /// Newest first; continue below this sequence number.
    pub before_seq: Option<u64>,
    pub limit: u32,
}

/// The append-only audit logs. Appends of records that accompany a change
/// happen inside that change's transaction (the mutating methods of the
/// other repositories take them); `append` is for events that change
/// nothing else.
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Appends in a transaction of its own; returns the stored entries.
    async fn append(
        &self,
        records: &[crate::audit::AuditRecord],
    ) -> Result<Vec<crate::audit::AuditEntry>, RepoError>;
    /// Size 0 with the empty root when the log has no entries yet.
    async fn head(&self, log: &crate::audit::LogId) -> Result<AuditHead, RepoError>;
    /// Every log with at least one entry.
    async fn logs(&self) -> Result<Vec<AuditHead>, RepoError>;
    /// The stored perfect-subtree hashes among `ids` (missing ones omitted).
    async fn nodes(
        &self,
        log: &crate::audit::LogId,
        ids: &[crate::audit::NodeId],
    ) -> Result<Vec<(crate::audit::NodeId, crate::audit::Hash)>, RepoError>;
    /// Stored entries with `from <= seq`, ascending, at most `limit`, as
    /// written (the verifier judges them).
    async fn scan(
        &self,
        log: &crate::audit::LogId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<crate::audit::RawEntry>, RepoError>;
    /// Newest first; one more than `filter.limit` tells a next page exists.
    async fn query(
        &self,
        log: &crate::audit::LogId,
        filter: &AuditFilter,
    ) -> Result<Vec<crate::audit::AuditEntry>, RepoError>;
    async fn get(
        &self,
        log: &crate::audit::LogId,
        id: uuid::Uuid,
    ) -> Result<crate::audit::AuditEntry, RepoError>;
    /// Failed or denied entries since `since` from this IP or by (or
    /// against) this actor.
    async fn recent_failures(
        &self,
        log: &crate::audit::LogId,
        ip: Option<&str>,
        actor: Option<UserId>,
        since: Timestamp,
    ) -> Result<u32, RepoError>;
    /// When the newest failed or denied entries since `since` from this
    /// IP or by (or against) this actor happened, newest first, at most
    /// `limit` of them: one query answers `recent_failures` (capped at
    /// `limit`) for every later `since`.
    async fn recent_failure_times(
        &self,
        log: &crate::audit::LogId,
        ip: Option<&str>,
        actor: Option<UserId>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Timestamp>, RepoError>;
    /// `false` when a checkpoint of that size exists already.
    async fn put_checkpoint(&self, cp: &StoredCheckpoint) -> Result<bool, RepoError>;
    async fn latest_checkpoint(
        &self,
        log: &crate::audit::LogId,
    ) -> Result<Option<StoredCheckpoint>, RepoError>;
    /// Every checkpoint of the log, by ascending size.
    async fn checkpoints(
        &self,
        log: &crate::audit::LogId,
    ) -> Result<Vec<StoredCheckpoint>, RepoError>;
}

/// The Ed25519 key that signs audit checkpoints (server-wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyRecord {
    pub key_id: String,
    pub key_name: String,
    pub public_key: [u8; 32],
    pub wrapped_private_key: Vec<u8>,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

#[async_trait]
pub trait AuditKeyRepository: Send + Sync {
    /// Every key, newest first (retired ones still verify old checkpoints).
    async fn list(&self) -> Result<Vec<AuditKeyRecord>, RepoError>;
    /// Stores the first key unless one exists (several instances may race
    /// on first start); returns the key in force afterwards.
    async fn insert_first(&self, key: &AuditKeyRecord) -> Result<AuditKeyRecord, RepoError>;
}

/// A stored alert raised by a critical audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: uuid::Uuid,
    pub tenant_id: Option<TenantId>,
    pub log_id: crate::audit::LogId,
    pub entry_seq: u64,
    pub entry_id: uuid::Uuid,
    pub severity: crate::audit::AlertSeverity,
    pub event_type: String,
    pub risk_score: u8,
    pub description: String,
    pub required_actions: Vec<String>,
    pub created_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub acknowledged_by: Option<UserId>,
    pub ack_comment: Option<String>,
}

/// One alert's delivery to one webhook target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: uuid::Uuid,
    pub alert_id: uuid::Uuid,
    pub tenant_id: Option<TenantId>,
    pub target: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait AlertRepository: Send + Sync {
    /// Schedules one pending delivery per target for up to `limit` alerts
    /// not yet scheduled (server-wide); returns how many alerts it took.
    /// Alerts themselves are written by the audit append that raised them.
    async fn schedule_deliveries(
        &self,
        targets: &[String],
        now: Timestamp,
        limit: u32,
    ) -> Result<u32, RepoError>;
    /// Newest first, keyset-paginated by id.
    async fn list(
        &self,
        tenant: TenantId,
        unacknowledged_only: bool,
        page: PageRequest,
    ) -> Result<Page<AlertRecord>, RepoError>;
    async fn get(&self, tenant: TenantId, id: uuid::Uuid) -> Result<AlertRecord, RepoError>;
    /// Any alert, tenant or server-level (for delivery).
    async fn get_for_delivery(&self, id: uuid::Uuid) -> Result<AlertRecord, RepoError>;
    /// `false` when it was acknowledged already.
    async fn acknowledge(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        by: UserId,
        comment: Option<&str>,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<bool, RepoError>;
    /// Pending deliveries due at `now` (server-wide), oldest first.
    async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, RepoError>;
    /// Records one attempt's result.
    async fn record_delivery(&self, d: &WebhookDelivery) -> Result<(), RepoError>;
    async fn deliveries(
        &self,
        tenant: TenantId,
        alert: uuid::Uuid,
    ) -> Result<Vec<WebhookDelivery>, RepoError>;
}

/// Per-tenant audit policy (suspicious IPs, business hours, risk table).
#[async_trait]
pub trait AuditPolicyRepository: Send + Sync {
    async fn get(&self, tenant: TenantId) -> Result<Option<crate::audit::AuditPolicy>, RepoError>;
    async fn put(
        &self,
        tenant: TenantId,
        policy: &crate::audit::AuditPolicy,
        at: Timestamp,
        audit: &[crate::audit::AuditRecord],
    ) -> Result<(), RepoError>;
}

/// Signs audit checkpoints (the Ed25519 log key, held by infrastructure).
pub trait CheckpointSigner: Send + Sync {
    /// The signed-note key name, e.g. `isms.example/audit`.
    fn key_name(&self) -> &str;
    /// The id under which the signing key is stored.
    fn key_id(&self) -> &str;
    fn public_key(&self) -> [u8; 32];
    /// The full signed note for a checkpoint body.
    fn sign_note(&self, body: &str) -> String;
    /// Every key that verifies stored checkpoints (current and retired):
    /// key name and public key.
    fn verifying_keys(&self) -> Vec<(String, [u8; 32])>;
    /// Signs a compliance report with the same key (the secret never
    /// leaves the signer).
    fn sign_report(
        &self,
        report: &crate::compliance::ComplianceReport,
    ) -> Result<crate::compliance::SignedReport, crate::compliance::ReportError>;
}

/// Sends one webhook request (HTTP POST with a JSON body).
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// The response status, or why no response came.
    async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<u16, String>;
}
