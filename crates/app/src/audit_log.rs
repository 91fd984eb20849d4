//! Reading, proving and verifying the audit logs; signed checkpoints;
//! alerts and the tenant's audit policy.

use std::sync::Arc;

use isms_domain::TenantId;
use isms_domain::audit::{
    AuditEntry, AuditPolicy, Checkpoint, Hash, LogId, LogVerifier, VerifyReport,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::ports::{
    AlertRecord, AlertRepository, AuditFilter, AuditHead, AuditPolicyRepository, CheckpointSigner,
    StoredCheckpoint, WebhookDelivery,
};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use crate::AppError;
use crate::audit::AuditTrail;
use crate::auth::AuthService;

/// Entries read per statement while verifying.
const SCAN_BATCH: u32 = 10_000;

/// Pages read ahead of the hashing while verifying.
const READ_AHEAD: usize = 2;

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub seq: u64,
    pub tree_size: u64,
    pub leaf_hash: Hash,
    pub path: Vec<Hash>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub path: Vec<Hash>,
}

/// One entry with its proof against the latest checkpoint (absent while
/// the entry is newer than every checkpoint).
pub struct EntryWithProof {
    pub entry: AuditEntry,
    pub checkpoint: Option<StoredCheckpoint>,
    pub proof: Option<InclusionProof>,
}

#[derive(Clone)]
pub struct AuditLogService {
    trail: AuditTrail,
    policies: Arc<dyn AuditPolicyRepository>,
    alerts: Arc<dyn AlertRepository>,
    signer: Arc<dyn CheckpointSigner>,
    auth: AuthService,
    origin: String,
}

impl AuditLogService {
    pub fn new(
        trail: AuditTrail,
        policies: Arc<dyn AuditPolicyRepository>,
        alerts: Arc<dyn AlertRepository>,
        signer: Arc<dyn CheckpointSigner>,
        auth: AuthService,
        origin: String,
    ) -> Self {
        Self {
            trail,
            policies,
            alerts,
            signer,
            auth,
            origin,
        }
    }

    pub fn signer(&self) -> &Arc<dyn CheckpointSigner> {
        &self.signer
    }

    /// The checkpoint origin line of a log: unique per server and log.
    pub fn origin_of(&self, log: &LogId) -> String {
        format!("{}/{log}", self.origin)
    }

    // --- checkpoints -------------------------------------------------------

    /// Signs a checkpoint of every log that grew since its last one;
    /// returns how many were written. Safe to run on several instances at
    /// once: a checkpoint of a given size is stored once.
    pub async fn checkpoint_all(&self) -> Result<u32, AppError> {
        let mut written = 0;
        for head in self.trail.repo().logs().await? {
            if self.checkpoint_if_grown(&head).await?.1 {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Signs a checkpoint of every log that grew by `max_entries` since its
    /// last one, or grew at all and whose last one is older than `max_age`
    /// (or that has none).
    pub async fn checkpoint_due(
        &self,
        max_entries: u64,
        max_age: std::time::Duration,
    ) -> Result<u32, AppError> {
        let repo = self.trail.repo();
        let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        let at = now();
        let mut written = 0;
        for head in repo.logs().await? {
            let due = match repo.latest_checkpoint(&head.log_id).await? {
                None => true,
                Some(last) => {
                    let size = last.checkpoint.tree_size;
                    head.size > size
                        && (head.size - size >= max_entries
                            || at - last.checkpoint.timestamp >= max_age)
                }
            };
            if due && self.checkpoint_if_grown(&head).await?.1 {
                written += 1;
            }
        }
        Ok(written)
    }

    /// The log's latest checkpoint, signing a new one first when the log
    /// grew since (or has none yet).
    async fn checkpoint_if_grown(
        &self,
        head: &AuditHead,
    ) -> Result<(StoredCheckpoint, bool), AppError> {
        let repo = self.trail.repo();
        if let Some(latest) = repo.latest_checkpoint(&head.log_id).await?
            && latest.checkpoint.tree_size >= head.size
        {
            return Ok((latest, false));
        }
        let checkpoint = Checkpoint {
            origin: self.origin_of(&head.log_id),
            tree_size: head.size,
            root_hash: head.root_hash,
            timestamp: now(),
        };
        let note = self.signer.sign_note(&checkpoint.body());
        let stored = StoredCheckpoint {
            log_id: head.log_id.clone(),
            checkpoint,
            key_id: self.signer.key_id().to_owned(),
            note,
        };
        let written = repo.put_checkpoint(&stored).await?;
        if !written {
            // Another instance signed this size first; serve its note.
            if let Some(latest) = repo.latest_checkpoint(&head.log_id).await? {
                return Ok((latest, false));
            }
        }
        Ok((stored, written))
    }

    /// A log's latest checkpoint, signed now if the log grew since.
    pub async fn checkpoint_log(&self, log: &LogId) -> Result<StoredCheckpoint, AppError> {
        let head = self.trail.repo().head(log).await?;
        Ok(self.checkpoint_if_grown(&head).await?.0)
    }

    /// The caller's tenant log's latest checkpoint (brought up to date).
    pub async fn checkpoint(&self, who: &Principal) -> Result<StoredCheckpoint, AppError> {
        who.require(Permission::AuditRead)?;
        let head = self
            .trail
            .repo()
            .head(&LogId::tenant(who.tenant_id))
            .await?;
        Ok(self.checkpoint_if_grown(&head).await?.0)
    }

    // --- proofs ------------------------------------------------------------

    pub async fn inclusion(
        &self,
        who: &Principal,
        seq: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, AppError> {
        who.require(Permission::AuditRead)?;
        self.inclusion_in(&LogId::tenant(who.tenant_id), seq, tree_size)
            .await
    }

    async fn inclusion_in(
        &self,
        log: &LogId,
        seq: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, AppError> {
        let head = self.trail.repo().head(log).await?;
        if tree_size > head.size || seq >= tree_size {
            return Err(AppError::validation(
                "seq",
                "out_of_range",
                format!("need seq < tree_size <= {} (the log's size)", head.size),
            ));
        }
        let plan = isms_domain::audit::inclusion_proof_plan(seq, tree_size)
            .map_err(|e| AppError::validation("seq", "out_of_range", e))?;
        let leaf_id = isms_domain::audit::NodeId {
            level: 0,
            index: seq,
        };
        let mut wanted = plan.nodes().to_vec();
        wanted.push(leaf_id);
        let nodes = self.nodes(log, &wanted).await?;
        let lookup = |id: isms_domain::audit::NodeId| nodes.get(&(id.level, id.index)).copied();
        let path = plan
            .assemble(&lookup)
            .map_err(|e| AppError::Internal(format!("inclusion proof: {e}")))?;
        let leaf_hash = lookup(leaf_id)
            .ok_or_else(|| AppError::Internal("inclusion proof: leaf missing".into()))?;
        Ok(InclusionProof {
            seq,
            tree_size,
            leaf_hash,
            path,
        })
    }

    pub async fn consistency(
        &self,
        who: &Principal,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, AppError> {
        who.require(Permission::AuditRead)?;
        let log = LogId::tenant(who.tenant_id);
        let head = self.trail.repo().head(&log).await?;
        if from == 0 || from > to || to > head.size {
            return Err(AppError::validation(
                "from",
                "out_of_range",
                format!("need 0 < from <= to <= {} (the log's size)", head.size),
            ));
        }
        let plan = isms_domain::audit::consistency_proof_plan(from, to)
            .map_err(|e| AppError::validation("from", "out_of_range", e))?;
        let nodes = self.nodes(&log, plan.nodes()).await?;
        let lookup = |id: isms_domain::audit::NodeId| nodes.get(&(id.level, id.index)).copied();
        let path = plan
            .assemble(&lookup)
            .map_err(|e| AppError::Internal(format!("consistency proof: {e}")))?;
        Ok(ConsistencyProof { from, to, path })
    }

    async fn nodes(
        &self,
        log: &LogId,
        ids: &[isms_domain::audit::NodeId],
    ) -> Result<std::collections::HashMap<(u8, u64), Hash>, AppError> {
        Ok(self
            .trail
            .repo()
            .nodes(log, ids)
            .await?
            .into_iter()
            .map(|(id, h)| ((id.level, id.index), h))
            .collect())
    }

    // --- queries -----------------------------------------------------------

    /// Newest first; the second value continues the listing.
    pub async fn events(
        &self,
        who: &Principal,
        filter: AuditFilter,
    ) -> Result<(Vec<AuditEntry>, Option<u64>), AppError> {
        who.require(Permission::AuditRead)?;
        let limit = filter.limit as usize;
        let mut rows = self
            .trail
            .repo()
            .query(&LogId::tenant(who.tenant_id), &filter)
            .await?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|e| e.seq)
        } else {
            None
        };
        Ok((rows, next))
    }

    pub async fn event(&self, who: &Principal, id: uuid::Uuid) -> Result<EntryWithProof, AppError> {
        who.require(Permission::AuditRead)?;
        let log = LogId::tenant(who.tenant_id);
        let entry = self.trail.repo().get(&log, id).await?;
        let head = self.trail.repo().head(&log).await?;
        let (checkpoint, _) = self.checkpoint_if_grown(&head).await?;
        let proof = if entry.seq < checkpoint.checkpoint.tree_size {
            Some(
                self.inclusion_in(&log, entry.seq, checkpoint.checkpoint.tree_size)
                    .await?,
            )
        } else {
            None
        };
        Ok(EntryWithProof {
            entry,
            checkpoint: Some(checkpoint),
            proof,
        })
    }

    // --- verification ------------------------------------------------------

    /// Re-hashes the whole log, rebuilds the tree and checks every stored
    /// checkpoint's signature and root.
    pub async fn verify_log(&self, log: &LogId) -> Result<VerifyReport, AppError> {
        let repo = self.trail.repo();
        let checkpoints = repo.checkpoints(log).await?;
        verify_stored(
            repo.as_ref(),
            log,
            checkpoints,
            &self.signer.verifying_keys(),
        )
        .await
    }

    /// Verifies the caller's tenant log and records that it did.
    pub async fn verify(
        &self,
        who: &Principal,
        meta: &RequestMeta,
    ) -> Result<VerifyReport, AppError> {
        who.require(Permission::AuditRead)?;
        let report = self.verify_log(&LogId::tenant(who.tenant_id)).await?;
        let ok = report.first_failure.is_none();
        self.trail
            .record(vec![
                SecurityEvent::new(
                    K::AuditVerified,
                    if ok {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    },
                    meta,
                )
                .tenant(who.tenant_id)
                .actor(who.user_id)
                .session(who.session_id)
                .details(serde_json::json!({
                    "entries": report.entries,
                    "first_bad_seq": report.first_failure.as_ref().and_then(|f| f.seq),
                })),
            ])
            .await?;
        Ok(report)
    }

    /// Every log on the server (for `isms audit verify`).
    pub async fn verify_all(&self) -> Result<Vec<VerifyReport>, AppError> {
        let mut out = Vec::new();
        for head in self.trail.repo().logs().await? {
            out.push(self.verify_log(&head.log_id).await?);
        }
        Ok(out)
    }

    // --- alerts ------------------------------------------------------------

    pub async fn alerts(
        &self,
        who: &Principal,
        unacknowledged_only: bool,
        page: PageRequest,
    ) -> Result<Page<AlertRecord>, AppError> {
        who.require(Permission::AlertsRead)?;
        Ok(self
            .alerts
            .list(who.tenant_id, unacknowledged_only, page)
            .await?)
    }

    pub async fn alert(
        &self,
        who: &Principal,
        id: uuid::Uuid,
    ) -> Result<(AlertRecord, Vec<WebhookDelivery>), AppError> {
        who.require(Permission::AlertsRead)?;
        let alert = self.alerts.get(who.tenant_id, id).await?;
        let deliveries = self.alerts.deliveries(who.tenant_id, id).await?;
        Ok((alert, deliveries))
    }

    /// Acknowledging is an action on the incident (manager or admin), not
    /// something a read-only auditor does.
    pub async fn acknowledge(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        comment: Option<String>,
        meta: &RequestMeta,
    ) -> Result<AlertRecord, AppError> {
        who.require(Permission::AlertsAcknowledge)?;
        if comment.as_ref().is_some_and(|c| c.chars().count() > 1000) {
            return Err(AppError::validation(
                "comment",
                "too_long",
                "at most 1000 characters",
            ));
        }
        let alert = self.alerts.get(who.tenant_id, id).await?;
        if alert.acknowledged_at.is_some() {
            return Err(AppError::Conflict("alert_acknowledged"));
        }
        let event = SecurityEvent::new(K::AlertAcknowledged, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
            .details(serde_json::json!({
                "resource_type": "alert",
                "resource_id": id.to_string(),
                "severity": alert.severity.as_str(),
            }));
        let alerts = &self.alerts;
        let at = now();
        let done = self
            .trail
            .change(vec![event], async |audit| {
                alerts
                    .acknowledge(
                        who.tenant_id,
                        id,
                        who.user_id,
                        comment.as_deref(),
                        at,
                        audit,
                    )
                    .await
            })
            .await?;
        if !done {
            return Err(AppError::Conflict("alert_acknowledged"));
        }
        Ok(self.alerts.get(who.tenant_id, id).await?)
    }

    // --- policy ------------------------------------------------------------

    pub async fn policy(&self, who: &Principal) -> Result<AuditPolicy, AppError> {
        who.require(Permission::TenantAdmin)?;
        Ok(self.trail.policy(who.tenant_id).await?.as_ref().clone())
    }

    /// Replaces the tenant's audit policy (a security configuration change:
    /// needs step-up).
    pub async fn put_policy(
        &self,
        who: &Principal,
        policy: AuditPolicy,
        meta: &RequestMeta,
    ) -> Result<AuditPolicy, AppError> {
        who.require(Permission::TenantAdmin)?;
        self.auth.require_step_up(who)?;
        policy.validate().map_err(|e| AppError::Validation {
            field: "policy",
            code: "invalid_policy",
            message: e.to_string(),
        })?;
        let event = SecurityEvent::new(K::AuditPolicyChanged, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id);
        let repo = &self.policies;
        let tenant: TenantId = who.tenant_id;
        self.trail
            .change(vec![event], async |audit| {
                repo.put(tenant, &policy, now(), audit).await
            })
            .await?;
        self.trail.forget_policy(tenant);
        Ok(policy)
    }
}

/// The whole-log verification over a store, as a pipeline: this task
/// reads pages of entries (two at a time) and hands them through a
/// bounded channel to a blocking thread that hashes them, rebuilds the
/// tree (a compact range: O(log n) hashes held) and checks each checkpoint
/// when the entries reach its size. Reading and hashing overlap, the
/// hashing keeps no runtime worker busy for seconds, and at most
/// `READ_AHEAD + 3` pages are in memory. The first failure stops both.
pub async fn verify_stored(
    repo: &dyn isms_domain::ports::AuditRepository,
    log: &LogId,
    mut checkpoints: Vec<StoredCheckpoint>,
    keys: &[(String, [u8; 32])],
) -> Result<VerifyReport, AppError> {
    checkpoints.sort_by_key(|c| c.checkpoint.tree_size);
    let (pages, mut received) =
        tokio::sync::mpsc::channel::<Vec<isms_domain::audit::RawEntry>>(READ_AHEAD);
    let keys = keys.to_vec();
    let log_id = log.clone();
    let hashing = tokio::task::spawn_blocking(move || {
        let mut pending = checkpoints.into_iter().peekable();
        let mut verifier = LogVerifier::new(log_id);
        while let Some(page) = received.blocking_recv() {
            if !check_batch(&mut verifier, &mut pending, &page, &keys) {
                // Dropping the receiver stops the reader.
                return verifier.finish();
            }
        }
        // Every entry was read: the remaining checkpoints are due.
        for cp in pending {
            verifier.check_checkpoint(&cp.checkpoint, note_ok(&cp, &keys));
        }
        verifier.finish()
    });
    let read = async {
        let mut from = 0;
        loop {
            // Two pages at once (two connections, two cores for the
            // store's decoding); the second is used only when it starts
            // exactly where a full first one ends, so the entries handed
            // on are the same as one page after another would give.
            let next = from + u64::from(SCAN_BATCH);
            let (first, second) = tokio::join!(
                repo.scan(log, from, SCAN_BATCH),
                repo.scan(log, next, SCAN_BATCH)
            );
            let first = first?;
            let full = first.len() >= SCAN_BATCH as usize;
            let Some(last) = first.last().map(|e| e.seq) else {
                break;
            };
            from = last + 1;
            if pages.send(first).await.is_err() || !full {
                // The hashing stopped at a failure, or this was the tail.
                break;
            }
            let second = second?;
            if second.first().map(|e| e.seq) != Some(from) {
                continue;
            }
            let full = second.len() >= SCAN_BATCH as usize;
            if let Some(last) = second.last() {
                from = last.seq + 1;
            }
            if pages.send(second).await.is_err() || !full {
                break;
            }
        }
        Ok::<(), AppError>(())
    }
    .await;
    drop(pages);
    let report = hashing
        .await
        .map_err(|e| AppError::Internal(format!("audit verification: {e}")))?;
    read?;
    Ok(report)
}

/// Pushes a batch, checking each checkpoint the entries reach; `false`
/// once verification failed.
fn check_batch(
    verifier: &mut LogVerifier,
    pending: &mut std::iter::Peekable<std::vec::IntoIter<StoredCheckpoint>>,
    batch: &[isms_domain::audit::RawEntry],
    keys: &[(String, [u8; 32])],
) -> bool {
    for raw in batch {
        // Checkpoints at or below the entries seen so far are due.
        while let Some(cp) = pending.next_if(|c| c.checkpoint.tree_size <= raw.seq) {
            verifier.check_checkpoint(&cp.checkpoint, note_ok(&cp, keys));
        }
        if verifier.push(raw).is_err() {
            return false;
        }
    }
    true
}

fn note_ok(cp: &StoredCheckpoint, keys: &[(String, [u8; 32])]) -> bool {
    keys.iter().any(|(name, public)| {
        isms_domain::audit::open_note(&cp.note, name, public)
            .is_ok_and(|opened| opened == cp.checkpoint)
    })
}
