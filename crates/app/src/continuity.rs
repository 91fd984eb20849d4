//! Continuity: the availability error budget, the SLO signals and their
//! alerts, and the quality score. Fed by every request (from the HTTP
//! layer) and every audit write (as the audit trail's observer).
//!
//! The request path only touches atomics: budget deltas are flushed to the
//! shared counter store about once a second (and before every read), and
//! the signals come from a ring of per-minute counters in process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use isms_domain::TenantId;
use isms_domain::audit::{AuditRecord, LogId};
use isms_domain::continuity::slo::{LATENCY_BOUNDS_SECS, latency_bucket};
use isms_domain::continuity::{
    AppendOutcome, AuditObserver, BudgetCounts, BudgetWindow, ErrorBudgetSnapshot,
    ErrorBudgetStore, KeyAge, KeyInventory, LatencyHistogram, LogLineStats, QualityInputs,
    QualityScore, Ratio, RedisProbe, Signal, SignalStatus, SloTarget, SloThresholds, WindowStats,
    error_budget, quality, slo,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::LimiterStore;
use isms_domain::time::{Timestamp, now};

use crate::AppError;
use crate::audit::AuditTrail;

/// Minutes of per-minute counters kept in process: the longest signal
/// window, and the window the quality score's request ratios cover.
pub const RING_MINUTES: usize = 60;
/// How long an audited request id is remembered until its request ends.
const AUDITED_TTL: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct ContinuitySettings {
    pub target: SloTarget,
    pub window: BudgetWindow,
    pub thresholds: SloThresholds,
    /// How far back the SLO signals look (1 to 60 minutes).
    pub signal_window: Duration,
    /// A breached signal raises at most one alert per interval — across
    /// instances when the limiter counters are shared (Redis).
    pub alert_interval: Duration,
}

impl Default for ContinuitySettings {
    fn default() -> Self {
        Self {
            target: SloTarget::default(),
            window: BudgetWindow::default(),
            thresholds: SloThresholds::default(),
            signal_window: Duration::from_secs(300),
            alert_interval: Duration::from_secs(900),
        }
    }
}

pub struct ContinuityDeps {
    pub budget: Arc<dyn ErrorBudgetStore>,
    /// Set when Redis is configured, for readiness.
    pub redis: Option<Arc<dyn RedisProbe>>,
    /// Breaches are recorded here (the store raises the alert).
    pub audit: AuditTrail,
    /// Shared counters that rate-limit breach alerts.
    pub dedupe: Arc<dyn LimiterStore>,
    pub keys: Arc<dyn KeyInventory>,
    pub logs: Arc<dyn LogLineStats>,
}

/// How a protected route's credentials turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthObservation {
    Valid {
        /// The caller's role may administer users.
        privileged: bool,
        mfa_enrolled: bool,
    },
    Rejected,
}

/// What the HTTP layer reports about one finished request.
#[derive(Debug, Clone, Copy)]
pub struct RequestObservation<'a> {
    pub status: u16,
    pub duration: Duration,
    /// Health probes and scrapes are not part of the service level.
    pub counts_for_slo: bool,
    /// Set on protected routes.
    pub auth: Option<AuthObservation>,
    /// A POST/PUT/PATCH/DELETE on an API route.
    pub mutation: bool,
    pub request_id: Option<&'a str>,
}

const LATENCY_SLOTS: usize = LATENCY_BOUNDS_SECS.len() + 1;

/// One minute's counters.
#[derive(Default)]
struct Slot {
    minute: AtomicI64,
    total: AtomicU64,
    failed: AtomicU64,
    client_errors: AtomicU64,
    latency: [AtomicU64; LATENCY_SLOTS],
    auth_valid: AtomicU64,
    auth_rejected: AtomicU64,
    privileged: AtomicU64,
    privileged_mfa: AtomicU64,
    mutations: AtomicU64,
    mutations_audited: AtomicU64,
}

impl Slot {
    fn reset(&self) {
        for c in [
            &self.total,
            &self.failed,
            &self.client_errors,
            &self.auth_valid,
            &self.auth_rejected,
            &self.privileged,
            &self.privileged_mfa,
            &self.mutations,
            &self.mutations_audited,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        for c in &self.latency {
            c.store(0, Ordering::Relaxed);
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Sums over the last minutes of the ring.
#[derive(Default)]
struct RingSums {
    window: WindowStats,
    auth_valid: u64,
    auth_rejected: u64,
    privileged: u64,
    privileged_mfa: u64,
    mutations: u64,
    mutations_audited: u64,
}

#[derive(Clone)]
pub struct ContinuityService {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ContinuitySettings,
    deps: ContinuityDeps,
    ring: Vec<Slot>,
    /// Serialises moving a ring slot to a new minute.
    rollover: Mutex<()>,
    pending: [AtomicU64; 3],
    audited: moka::sync::Cache<String, ()>,
    writes_ok: AtomicU64,
    writes_failed: AtomicU64,
    last_verification: Mutex<Option<(bool, Timestamp)>>,
    last_alert: Mutex<BTreeMap<Signal, Timestamp>>,
}

/// The detailed view of the audit log for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogStatus {
    pub size: u64,
    pub last_checkpoint_at: Option<Timestamp>,
}

impl ContinuityService {
    pub fn new(settings: ContinuitySettings, deps: ContinuityDeps) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                deps,
                ring: (0..RING_MINUTES).map(|_| Slot::default()).collect(),
                rollover: Mutex::new(()),
                pending: Default::default(),
                audited: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(AUDITED_TTL)
                    .build(),
                writes_ok: AtomicU64::new(0),
                writes_failed: AtomicU64::new(0),
                last_verification: Mutex::new(None),
                last_alert: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    pub fn settings(&self) -> &ContinuitySettings {
        &self.inner.settings
    }

    pub fn budget_backend(&self) -> &'static str {
        self.inner.deps.budget.backend()
    }

    fn minute_now() -> i64 {
        now().timestamp().div_euclid(60)
    }

    fn slot(&self, minute: i64) -> &Slot {
        let i = usize::try_from(minute.rem_euclid(RING_MINUTES as i64)).unwrap_or(0);
        &self.inner.ring[i]
    }

    /// The slot of the current minute, cleared first if it still holds the
    /// minute an hour ago.
    fn current_slot(&self) -> &Slot {
        let minute = Self::minute_now();
        let slot = self.slot(minute);
        if slot.minute.load(Ordering::Acquire) != minute {
            let _guard = lock(&self.inner.rollover);
            if slot.minute.load(Ordering::Acquire) != minute {
                slot.reset();
                slot.minute.store(minute, Ordering::Release);
            }
        }
        slot
    }

    /// Records one finished request (cheap: atomics only).
    pub fn observe_request(&self, o: &RequestObservation<'_>) {
        let slot = self.current_slot();
        if o.counts_for_slo {
            let c = BudgetCounts::of_status(o.status);
            let [total, failed, client] = &self.inner.pending;
            total.fetch_add(c.total, Ordering::Relaxed);
            failed.fetch_add(c.failed, Ordering::Relaxed);
            client.fetch_add(c.client_errors, Ordering::Relaxed);
            slot.total.fetch_add(c.total, Ordering::Relaxed);
            slot.failed.fetch_add(c.failed, Ordering::Relaxed);
            slot.client_errors
                .fetch_add(c.client_errors, Ordering::Relaxed);
            bump(&slot.latency[latency_bucket(o.duration)]);
        }
        match o.auth {
            Some(AuthObservation::Valid {
                privileged,
                mfa_enrolled,
            }) => {
                bump(&slot.auth_valid);
                if privileged {
                    bump(&slot.privileged);
                    if mfa_enrolled {
                        bump(&slot.privileged_mfa);
                    }
                }
            }
            Some(AuthObservation::Rejected) => bump(&slot.auth_rejected),
            None => {}
        }
        if o.mutation && (200..300).contains(&o.status) {
            bump(&slot.mutations);
            if o.request_id
                .is_some_and(|id| self.inner.audited.remove(id).is_some())
            {
                bump(&slot.mutations_audited);
            }
        }
    }

    fn sums(&self, minutes: usize) -> RingSums {
        let newest = Self::minute_now();
        let mut s = RingSums::default();
        let mut latency = [0u64; LATENCY_SLOTS];
        for back in 0..minutes.clamp(1, RING_MINUTES) {
            let minute = newest - back as i64;
            let slot = self.slot(minute);
            if slot.minute.load(Ordering::Acquire) != minute {
                continue;
            }
            s.window.counts.add(BudgetCounts {
                total: get(&slot.total),
                failed: get(&slot.failed),
                client_errors: get(&slot.client_errors),
            });
            for (sum, c) in latency.iter_mut().zip(&slot.latency) {
                *sum += get(c);
            }
            s.auth_valid += get(&slot.auth_valid);
            s.auth_rejected += get(&slot.auth_rejected);
            s.privileged += get(&slot.privileged);
            s.privileged_mfa += get(&slot.privileged_mfa);
            s.mutations += get(&slot.mutations);
            s.mutations_audited += get(&slot.mutations_audited);
        }
        s.window.latency = LatencyHistogram::from_counts(&latency);
        s
    }

    fn signal_minutes(&self) -> usize {
        usize::try_from(self.inner.settings.signal_window.as_secs().div_ceil(60))
            .unwrap_or(RING_MINUTES)
            .clamp(1, RING_MINUTES)
    }

    fn oldest_live(&self) -> i64 {
        let bucket = error_budget::bucket_of(now().timestamp());
        self.inner.settings.window.oldest_live(bucket)
    }

    /// Moves the deltas counted since the last flush to the budget store.
    pub async fn flush(&self) {
        let [t, f, c] = &self.inner.pending;
        let delta = BudgetCounts {
            total: t.swap(0, Ordering::AcqRel),
            failed: f.swap(0, Ordering::AcqRel),
            client_errors: c.swap(0, Ordering::AcqRel),
        };
        if delta.is_empty() {
            return;
        }
        let bucket = error_budget::bucket_of(now().timestamp());
        if let Err(e) = self
            .inner
            .deps
            .budget
            .add(bucket, delta, self.oldest_live())
            .await
        {
            // Put the counts back for the next flush rather than lose them.
            t.fetch_add(delta.total, Ordering::Relaxed);
            f.fetch_add(delta.failed, Ordering::Relaxed);
            c.fetch_add(delta.client_errors, Ordering::Relaxed);
            tracing::warn!(error = %e, "slo.budget_flush_failed");
        }
    }

    /// The error budget over the window (flushes first, so it includes
    /// this instance's latest requests).
    pub async fn budget(&self) -> ErrorBudgetSnapshot {
        self.flush().await;
        let store = &self.inner.deps.budget;
        let (counts, backend) = match store.counts_since(self.oldest_live()).await {
            Ok(c) => (c, store.backend()),
            Err(e) => {
                tracing::warn!(error = %e, "slo.budget_read_failed");
                (BudgetCounts::default(), "unavailable")
            }
        };
        let s = &self.inner.settings;
        error_budget::snapshot(s.target, s.window, counts, backend)
    }

    /// The SLO signals over the signal window.
    pub fn signals(&self, budget: &ErrorBudgetSnapshot) -> Vec<SignalStatus> {
        let sums = self.sums(self.signal_minutes());
        slo::evaluate(&sums.window, &self.inner.settings.thresholds, budget)
    }

    /// The quality score from the current signals.
    pub fn quality(&self, budget: &ErrorBudgetSnapshot) -> QualityScore {
        let at = now();
        let ring = self.sums(RING_MINUTES);
        let signal = self.sums(self.signal_minutes());
        let keys = self.key_ages();
        let fresh = keys.iter().filter(|k| k.within_rotation(at)).count();
        let (with_id, lines) = self.inner.deps.logs.lines();
        let ok = get(&self.inner.writes_ok);
        quality::score(QualityInputs {
            valid_auth: Ratio::new(ring.auth_valid, ring.auth_valid + ring.auth_rejected),
            privileged_mfa: Ratio::new(ring.privileged_mfa, ring.privileged),
            keys_in_rotation: Ratio::new(fresh as u64, keys.len() as u64),
            last_verification_ok: lock(&self.inner.last_verification).map(|(ok, _)| ok),
            audit_writes: Ratio::new(ok, ok + get(&self.inner.writes_failed)),
            budget_remaining: budget.remaining_ratio,
            log_lines_with_request_id: Ratio::new(with_id, lines),
            mutations_audited: Ratio::new(ring.mutations_audited, ring.mutations),
            p95: signal.window.latency.quantile(0.95),
            p95_target: self.inner.settings.thresholds.p95,
        })
    }

    pub fn key_ages(&self) -> Vec<KeyAge> {
        self.inner.deps.keys.key_ages()
    }

    /// The last audit verification seen by this instance.
    pub fn last_verification(&self) -> Option<(bool, Timestamp)> {
        *lock(&self.inner.last_verification)
    }

    /// When each signal last raised an alert from this instance.
    pub fn last_alerts(&self) -> BTreeMap<Signal, Timestamp> {
        lock(&self.inner.last_alert).clone()
    }

    /// Redis readiness: `None` when not configured, else whether it
    /// answered.
    pub async fn redis_ok(&self) -> Option<bool> {
        let probe = self.inner.deps.redis.as_ref()?;
        if !probe.configured() {
            return None;
        }
        Some(probe.ping().await.is_ok())
    }

    pub async fn audit_log_status(&self, tenant: TenantId) -> Result<AuditLogStatus, AppError> {
        let repo = self.inner.deps.audit.repo();
        let log = LogId::tenant(tenant);
        let head = repo.head(&log).await?;
        let last = repo.latest_checkpoint(&log).await?;
        Ok(AuditLogStatus {
            size: head.size,
            last_checkpoint_at: last.map(|c| c.checkpoint.timestamp),
        })
    }

    /// Evaluates the signals and records an `slo_breach` audit event (the
    /// store raises its alert) for each breached one not alerted on within
    /// the alert interval. Returns the signals alerted on.
    pub async fn check_breaches(&self) -> Result<Vec<Signal>, AppError> {
        let budget = self.budget().await;
        let mut raised = Vec::new();
        for s in self.signals(&budget).into_iter().filter(|s| s.breached) {
            if !self.claim_alert(s.signal).await {
                continue;
            }
            let window_secs = if s.signal == Signal::ErrorBudgetExhausted {
                u64::from(budget.window_days) * 86_400
            } else {
                self.inner.settings.signal_window.as_secs()
            };
            // Audit details take no floats (the canonical encoding refuses
            // them): measured values are written as decimal strings.
            let event = SecurityEvent::new(K::SloBreach, Outcome::Failure, &RequestMeta::default())
                .details(serde_json::json!({
                    "signal": s.signal.as_str(),
                    "observed": s.observed.map(|v| format!("{v:.3}")),
                    "threshold": format!("{:.3}", s.threshold),
                    "unit": s.unit,
                    "window_secs": window_secs,
                }));
            self.inner.deps.audit.record(vec![event]).await?;
            tracing::warn!(
                signal = s.signal.as_str(),
                observed = s.observed,
                threshold = s.threshold,
                unit = s.unit,
                "slo.breached"
            );
            raised.push(s.signal);
        }
        Ok(raised)
    }

    /// Whether this breach may alert now: not within the interval on this
    /// instance, and first in the interval on the shared counters.
    async fn claim_alert(&self, signal: Signal) -> bool {
        let at = now();
        let interval = self.inner.settings.alert_interval;
        let recent = lock(&self.inner.last_alert)
            .get(&signal)
            .is_some_and(|t| (at - *t).to_std().unwrap_or(Duration::ZERO) < interval);
        if recent {
            return false;
        }
        let key = format!("slo-alert:{}", signal.as_str());
        // Without an answer from the shared counters the local interval
        // alone decides (an alert twice beats none).
        let first = self
            .inner
            .deps
            .dedupe
            .add_failure(&key, interval)
            .await
            .map_or(true, |n| n == 1);
        lock(&self.inner.last_alert).insert(signal, at);
        first
    }
}

impl AuditObserver for ContinuityService {
    fn observed(&self, records: &[AuditRecord], outcome: AppendOutcome, _elapsed: Duration) {
        match outcome {
            AppendOutcome::Committed => {
                bump(&self.inner.writes_ok);
                for r in records {
                    if let Some(id) = &r.request_id {
                        self.inner.audited.insert(id.clone(), ());
                    }
                    if r.event_type == K::AuditVerified.as_str() {
                        *lock(&self.inner.last_verification) =
                            Some((r.outcome == Outcome::Success, now()));
                    }
                }
            }
            AppendOutcome::Failed => bump(&self.inner.writes_failed),
            AppendOutcome::NotWritten => {}
        }
    }
}

/// Tells several observers about each audit write.
pub struct AuditObservers(pub Vec<Arc<dyn AuditObserver>>);

impl AuditObserver for AuditObservers {
    fn observed(&self, records: &[AuditRecord], outcome: AppendOutcome, elapsed: Duration) {
        for o in &self.0 {
            o.observed(records, outcome, elapsed);
        }
    }
}

/// A poisoned lock still guards consistent data here (every update is a
/// single assignment), so it is used rather than propagated.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// No keys to watch (tests, tools without key rings).
pub struct NoKeys;

impl KeyInventory for NoKeys {
    fn key_ages(&self) -> Vec<KeyAge> {
        Vec::new()
    }
}

/// No log line counts (a subscriber that does not count).
pub struct NoLogStats;

impl LogLineStats for NoLogStats {
    fn lines(&self) -> (u64, u64) {
        (0, 0)
    }
}
