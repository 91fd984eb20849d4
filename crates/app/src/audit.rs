//! The audit trail: turns security and domain events into scored audit
//! records and makes sure none is lost.
//!
//! A change and its record are written in one transaction: a service asks
//! `prepare` for the records of the events its change causes, hands them
//! to the repository method that makes the change (which appends them
//! before committing), then calls `committed` to publish the events to the
//! bus (log, metrics, alert delivery). An event that changes nothing else
//! (a failed login, a denial) is appended on its own by `record`; either
//! way an audit write that fails fails the request.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use isms_domain::audit::{AuditPolicy, AuditRecord, ComplianceFlag, LogId};
use isms_domain::continuity::{AppendOutcome, AuditObserver};
use isms_domain::events::{Outcome, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::{AuditPolicyRepository, AuditRepository, EventSink, RepoError};
use isms_domain::time::Timestamp;
use isms_domain::{TenantId, UserId};

use crate::AppError;

/// How far back "repeated failures" of the same actor or IP reach.
const FAILURE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Tenant audit policies change rarely; a change made through this
/// instance applies at once, one made through another within this time.
const POLICY_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct AuditTrail {
    inner: Arc<Inner>,
}

struct Inner {
    repo: Arc<dyn AuditRepository>,
    policies: Arc<dyn AuditPolicyRepository>,
    bus: Arc<dyn EventSink>,
    policy_cache: moka::sync::Cache<TenantId, Arc<AuditPolicy>>,
    /// Metrics and quality signals; set once at wiring.
    observer: OnceLock<Arc<dyn AuditObserver>>,
}

impl AuditTrail {
    pub fn new(
        repo: Arc<dyn AuditRepository>,
        policies: Arc<dyn AuditPolicyRepository>,
        bus: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                repo,
                policies,
                bus,
                policy_cache: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(POLICY_CACHE_TTL)
                    .build(),
                observer: OnceLock::new(),
            }),
        }
    }

    /// Installs the observer told about every audit write; `false` if one
    /// is installed already.
    pub fn set_observer(&self, observer: Arc<dyn AuditObserver>) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    fn observe(&self, records: &[AuditRecord], outcome: AppendOutcome, started: Instant) {
        if let (Some(o), false) = (self.inner.observer.get(), records.is_empty()) {
            o.observed(records, outcome, started.elapsed());
        }
    }

    pub fn repo(&self) -> &Arc<dyn AuditRepository> {
        &self.inner.repo
    }

    /// The tenant's audit policy (defaults when it set none).
    pub async fn policy(&self, tenant: TenantId) -> Result<Arc<AuditPolicy>, AppError> {
        if let Some(p) = self.inner.policy_cache.get(&tenant) {
            return Ok(p);
        }
        let p = Arc::new(self.inner.policies.get(tenant).await?.unwrap_or_default());
        self.inner.policy_cache.insert(tenant, p.clone());
        Ok(p)
    }

    pub fn forget_policy(&self, tenant: TenantId) {
        self.inner.policy_cache.invalidate(&tenant);
    }

    /// The scored records of `events`, in order.
    ///
    /// Repeated failures are looked up once per (log, IP, subject) of the
    /// batch rather than once per event: none of the batch is stored yet,
    /// so every event of a key sees the same entries, and the newest
    /// failures since the earliest window of the key answer every event's
    /// window. At most the policy's threshold of them are read, which is
    /// all the score looks at (whether the count reaches it).
    pub async fn prepare(&self, events: &[SecurityEvent]) -> Result<Vec<AuditRecord>, AppError> {
        let mut windows: HashMap<FailureKey<'_>, Timestamp> = HashMap::new();
        for e in events {
            if let Some(key) = failure_key(e) {
                let since = e.at - FAILURE_WINDOW;
                windows
                    .entry(key)
                    .and_modify(|s| *s = (*s).min(since))
                    .or_insert(since);
            }
        }
        // One policy per tenant for the whole batch: the cap and the score
        // must read the same threshold.
        let mut policies: HashMap<TenantId, Arc<AuditPolicy>> = HashMap::new();
        for t in events.iter().filter_map(|e| e.tenant_id) {
            if let Entry::Vacant(slot) = policies.entry(t) {
                slot.insert(self.policy(t).await?);
            }
        }
        let default_policy = Arc::new(AuditPolicy::default());
        let mut failures = HashMap::with_capacity(windows.len());
        for (key, since) in windows {
            let policy = policies.get(&key.tenant).unwrap_or(&default_policy);
            let times = self
                .inner
                .repo
                .recent_failure_times(
                    &LogId::tenant(key.tenant),
                    key.ip,
                    key.subject,
                    since,
                    policy.repeated_failure_threshold,
                )
                .await?;
            failures.insert(key, times);
        }
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let recent_failures = match failure_key(e).and_then(|k| failures.get(&k)) {
                Some(times) => {
                    let since = e.at - FAILURE_WINDOW;
                    let n = times.iter().filter(|t| **t >= since).count();
                    u32::try_from(n).unwrap_or(u32::MAX)
                }
                None => 0,
            };
            let policy = e
                .tenant_id
                .and_then(|t| policies.get(&t))
                .unwrap_or(&default_policy);
            out.push(prepare_one(e, policy, recent_failures)?);
        }
        Ok(out)
    }

    /// Appends the records of events that change nothing else, then
    /// publishes them.
    pub async fn record(&self, events: Vec<SecurityEvent>) -> Result<(), AppError> {
        let records = self.prepare(&events).await?;
        let started = Instant::now();
        let appended = self.inner.repo.append(&records).await;
        self.observe(&records, outcome_of(&appended), started);
        appended.map_err(audit_failed)?;
        self.committed(events);
        Ok(())
    }

    /// Publishes events whose records were committed with their change.
    pub fn committed(&self, events: Vec<SecurityEvent>) {
        for e in events {
            self.inner.bus.publish(e);
        }
    }

    /// Prepares the records of `events`, runs `change` with them (the
    /// repository appends them in the change's transaction) and publishes
    /// the events once it committed.
    pub async fn change<T>(
        &self,
        events: Vec<SecurityEvent>,
        change: impl AsyncFnOnce(&[AuditRecord]) -> Result<T, RepoError>,
    ) -> Result<T, AppError> {
        let records = self.prepare(&events).await?;
        let started = Instant::now();
        let out = change(&records).await;
        self.observe(&records, outcome_of(&out), started);
        let out = out?;
        self.committed(events);
        Ok(out)
    }
}

fn prepare_one(
    e: &SecurityEvent,
    policy: &AuditPolicy,
    recent_failures: u32,
) -> Result<AuditRecord, AppError> {
    let event_type = e.kind.as_str();
    let ip: Option<IpAddr> = e.meta.ip.as_deref().and_then(|s| s.parse().ok());
    let ctx = isms_domain::audit::RiskContext {
        ip,
        at: e.at,
        recent_failures,
    };
    let risk_score = isms_domain::audit::score(policy, event_type, &ctx);
    let compliance_flags = flags_of(e);
    let (resource_type, resource_id) = resource_of(e);
    let record = AuditRecord {
        event_type: event_type.to_owned(),
        tenant_id: e.tenant_id,
        actor_user_id: e.actor_user_id,
        session_id: e.session_id,
        request_id: e.meta.request_id.clone(),
        resource_type,
        resource_id,
        action: action_of(e.kind).to_owned(),
        outcome: e.outcome,
        ip: e.meta.ip.clone(),
        user_agent: e.meta.user_agent.clone(),
        details: e.details.clone(),
        compliance_flags,
        risk_score,
    };
    record
        .validate()
        .map_err(|err| AppError::Internal(format!("audit record rejected: {err}")))?;
    Ok(record)
}

/// Whose repeated failures raise an event's score: the tenant log, the
/// client IP as given and the actor (else the target) of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FailureKey<'a> {
    tenant: TenantId,
    ip: Option<&'a str>,
    subject: Option<UserId>,
}

/// `None` when nothing can be looked up: no tenant log, or neither an IP
/// nor a subject to match.
fn failure_key(e: &SecurityEvent) -> Option<FailureKey<'_>> {
    let tenant = e.tenant_id?;
    let ip = e.meta.ip.as_deref();
    let subject = e.actor_user_id.or(e.target_user_id);
    (ip.is_some() || subject.is_some()).then_some(FailureKey {
        tenant,
        ip,
        subject,
    })
}

/// A store that could not write counts against the audit log; a change
/// refused for its own reasons (not found, conflict) wrote nothing.
fn outcome_of<T>(r: &Result<T, RepoError>) -> AppendOutcome {
    match r {
        Ok(_) => AppendOutcome::Committed,
        Err(RepoError::Unavailable(_) | RepoError::Internal(_)) => AppendOutcome::Failed,
        Err(_) => AppendOutcome::NotWritten,
    }
}

/// An audit append that failed must fail the request; it is a dependency
/// failure (503), not a client error.
fn audit_failed(e: RepoError) -> AppError {
    match e {
        RepoError::Unavailable(m) => AppError::Unavailable(format!("audit log: {m}")),
        other => AppError::Unavailable(format!("audit log: {other}")),
    }
}

fn flags_of(e: &SecurityEvent) -> Vec<ComplianceFlag> {
    let input = isms_domain::audit::FlagInput {
        personal_data: matches!(
            e.kind,
            K::UserCreated | K::UserDeleted | K::DataExport | K::SubjectErased
        ),
        consent_recorded: None,
        financial: false,
        modifies: matches!(
            e.kind,
            K::UserCreated | K::UserUpdated | K::UserDeleted | K::RoleChanged
        ),
        unauthorized: e.kind == K::AccessDenied && e.outcome == Outcome::Denied,
    };
    isms_domain::audit::flags_for(&input)
}

fn resource_of(e: &SecurityEvent) -> (Option<String>, Option<String>) {
    if let Some(kind) = e.details.get("resource_type").and_then(|v| v.as_str()) {
        let id = e
            .details
            .get("resource_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        return (Some(kind.to_owned()), id);
    }
    match e.kind {
        K::AccessPolicyChanged | K::AuditPolicyChanged | K::TenantCreated => {
            (Some("tenant".into()), e.tenant_id.map(|t| t.to_string()))
        }
        K::Logout
        | K::TokenRefreshed
        | K::SessionRevoked
        | K::SessionIpChanged
        | K::RefreshTokenReuse
        | K::MfaStepUp => (Some("session".into()), e.session_id.map(|s| s.to_string())),
        _ => match e.target_user_id.or(e.actor_user_id) {
            Some(u) => (Some("user".into()), Some(u.to_string())),
            None => (None, None),
        },
    }
}

fn action_of(kind: K) -> &'static str {
    match kind {
        K::LoginSuccess | K::LoginFailure => "login",
        K::Logout => "logout",
        K::TokenRefreshed => "refresh",
        K::RefreshTokenReuse | K::SessionRevoked => "revoke",
        K::SessionIpChanged => "observe",
        K::PasswordChanged
        | K::RoleChanged
        | K::UserUpdated
        | K::AccessPolicyChanged
        | K::AuditPolicyChanged => "update",
        K::UserCreated | K::TenantCreated => "create",
        K::SigningKeyRotated => "rotate",
        K::AlertAcknowledged => "acknowledge",
        K::AuditVerified => "verify_log",
        K::UserDeactivated => "deactivate",
        K::UserDeleted => "delete",
        K::AccessDenied => "access",
        K::AccountLocked | K::PasswordSprayDetected => "lock",
        K::AccountUnlocked => "unlock",
        K::MfaEnrollmentStarted => "enroll_start",
        K::MfaEnrolled => "enroll",
        K::MfaDisabled => "disable",
        K::MfaVerified | K::MfaFailed | K::MfaStepUp | K::RecoveryCodeUsed => "verify",
        K::AssetCreated
        | K::ThreatCreated
        | K::VulnerabilityCreated
        | K::ExposureCreated
        | K::ConsentRecorded
        | K::DataSubjectRequestCreated
        | K::ReportGenerated => "create",
        K::AssetUpdated
        | K::ThreatUpdated
        | K::VulnerabilityUpdated
        | K::TreatmentUpdated
        | K::SoaUpdated
        | K::ComplianceConfigChanged
        | K::RetentionPolicyChanged
        | K::RiskMatrixChanged => "update",
        K::AssetDeleted
        | K::ThreatDeleted
        | K::VulnerabilityDeleted
        | K::ExposureDeleted
        | K::TenantDeleted => "delete",
        K::AssessmentRecorded | K::ComplianceRun | K::ComplianceCheckFailed => "assess",
        K::TreatmentApproved => "approve",
        K::AccessReviewed => "review",
        K::KeyRotated | K::MasterKeyRotated | K::KeysRewrapped => "rotate",
        K::KeyRetired => "retire",
        K::DataDecrypted | K::DecryptDenied | K::DecryptFailed => "decrypt",
        K::SubjectErased | K::TenantKeysDestroyed => "erase",
        K::ConsentWithdrawn => "withdraw",
        K::DataSubjectRequestCompleted => "complete",
        K::DataSubjectRequestRejected => "reject",
        K::DataSubjectRequestStarted => "start",
        K::RetentionEnforced => "erase",
        K::DataExport => "export",
        K::SloBreach | K::SecurityBreach | K::DataBreach => "detect",
    }
}
