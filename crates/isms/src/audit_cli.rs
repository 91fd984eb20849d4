//! `isms audit verify` and `isms audit export`: the whole-log verifier on
//! the database, the export format (JSON lines), and the offline verifier
//! of an export that needs nothing but the file and the log's public key.

use std::io::{BufRead, Write};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use isms_domain::audit::{AuditEntry, AuditRecord, LogId, LogVerifier, VerifyReport};
use isms_domain::events::Outcome;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::wiring;

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportLine {
    /// First line: which log, and the key that signed its checkpoints.
    Log {
        log_id: String,
        verifier_key: String,
    },
    Entry(Box<ExportEntry>),
    Checkpoint {
        tree_size: u64,
        /// Base64.
        root_hash: String,
        timestamp: chrono::DateTime<chrono::Utc>,
        note: String,
    },
}

/// Every field of an entry, so the verifier can recompute its leaf hash.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportEntry {
    pub seq: u64,
    pub id: uuid::Uuid,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub tenant_id: Option<isms_domain::TenantId>,
    pub event_type: String,
    pub actor_user_id: Option<isms_domain::UserId>,
    pub session_id: Option<isms_domain::SessionId>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action: String,
    pub outcome: Outcome,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
    pub compliance_flags: Vec<isms_domain::audit::ComplianceFlag>,
    pub risk_score: u8,
    /// Base64 leaf hash as stored.
    pub leaf_hash: String,
}

impl ExportEntry {
    fn from_entry(e: &AuditEntry, leaf: &isms_domain::audit::Hash) -> Self {
        let r = &e.record;
        Self {
            seq: e.seq,
            id: e.id,
            timestamp: e.timestamp,
            tenant_id: r.tenant_id,
            event_type: r.event_type.clone(),
            actor_user_id: r.actor_user_id,
            session_id: r.session_id,
            request_id: r.request_id.clone(),
            resource_type: r.resource_type.clone(),
            resource_id: r.resource_id.clone(),
            action: r.action.clone(),
            outcome: r.outcome,
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            details: r.details.clone(),
            compliance_flags: r.compliance_flags.clone(),
            risk_score: r.risk_score,
            leaf_hash: B64.encode(leaf),
        }
    }

    fn into_entry(self, log: &LogId) -> anyhow::Result<(AuditEntry, isms_domain::audit::Hash)> {
        let leaf = decode_hash(&self.leaf_hash).context("leaf_hash")?;
        let record = AuditRecord {
            event_type: self.event_type,
            tenant_id: self.tenant_id,
            actor_user_id: self.actor_user_id,
            session_id: self.session_id,
            request_id: self.request_id,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            action: self.action,
            outcome: self.outcome,
            ip: self.ip,
            user_agent: self.user_agent,
            details: self.details,
            compliance_flags: self.compliance_flags,
            risk_score: self.risk_score,
        };
        Ok((
            AuditEntry {
                log_id: log.clone(),
                seq: self.seq,
                id: self.id,
                timestamp: self.timestamp,
                record,
            },
            leaf,
        ))
    }
}

fn decode_hash(b64: &str) -> anyhow::Result<isms_domain::audit::Hash> {
    let bytes = B64.decode(b64).context("not base64")?;
    isms_domain::audit::Hash::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("not 32 bytes"))
}

/// Prints one line per log and fails unless every log verifies.
fn report(out: &mut dyn Write, reports: &[VerifyReport]) -> anyhow::Result<()> {
    let mut bad = 0;
    for r in reports {
        match &r.first_failure {
            None => writeln!(
                out,
                "ok\t{}\t{} entries\t{} checkpoints",
                r.log_id, r.entries, r.checkpoints_checked
            )?,
            Some(f) => {
                bad += 1;
                writeln!(
                    out,
                    "FAILED\t{}\tseq {}\t{}\t{}",
                    r.log_id,
                    f.seq.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    f.kind.as_str(),
                    f.message
                )?;
            }
        }
    }
    if bad > 0 {
        bail!(
            "{bad} of {} audit log(s) failed verification",
            reports.len()
        );
    }
    Ok(())
}

/// `isms audit verify`: every log in the database.
pub async fn verify_database(config: &Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let services = wiring::connect(config, config.auto_migrate).await?;
    let reports = services
        .app
        .audit_log
        .verify_all()
        .await
        .map_err(|e| anyhow::anyhow!("verifying: {e}"))?;
    services.store.close().await;
    report(out, &reports)
}

/// `isms audit export --tenant T`: the tenant's log as JSON lines.
pub async fn export(config: &Config, tenant: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let services = wiring::connect(config, config.auto_migrate).await?;
    let tenant = services
        .app
        .tenants
        .resolve(tenant)
        .await
        .map_err(|_| anyhow::anyhow!("no tenant with id or name {tenant:?}"))?;
    let log = LogId::tenant(tenant.id);
    let signer = services.app.audit_log.signer().clone();
    let line = |l: &ExportLine| serde_json::to_string(l).context("encoding");
    writeln!(
        out,
        "{}",
        line(&ExportLine::Log {
            log_id: log.to_string(),
            verifier_key: isms_domain::audit::verifier_key(signer.key_name(), &signer.public_key()),
        })?
    )?;
    let repo = services.store.audit();
    let mut from = 0;
    loop {
        let batch = repo
            .scan(&log, from, 10_000)
            .await
            .map_err(|e| anyhow::anyhow!("reading the log: {e}"))?;
        for (entry, leaf) in &batch {
            writeln!(
                out,
                "{}",
                line(&ExportLine::Entry(Box::new(ExportEntry::from_entry(
                    entry, leaf
                ))))?
            )?;
            from = entry.seq + 1;
        }
        if batch.len() < 10_000 {
            break;
        }
    }
    for cp in repo
        .checkpoints(&log)
        .await
        .map_err(|e| anyhow::anyhow!("reading checkpoints: {e}"))?
    {
        writeln!(
            out,
            "{}",
            line(&ExportLine::Checkpoint {
                tree_size: cp.checkpoint.tree_size,
                root_hash: B64.encode(cp.checkpoint.root_hash),
                timestamp: cp.checkpoint.timestamp,
                note: cp.note,
            })?
        )?;
    }
    out.flush()?;
    services.store.close().await;
    Ok(())
}

/// `isms audit verify --file F --pubkey K`: an export, offline.
pub fn verify_file(
    input: &mut dyn BufRead,
    pubkey: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (key_name, public) = isms_domain::audit::parse_verifier_key(pubkey)
        .map_err(|e| anyhow::anyhow!("--pubkey: {e}"))?;
    let mut log: Option<LogId> = None;
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    for (n, text) in input.lines().enumerate() {
        let text = text.context("reading the export")?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine = serde_json::from_str(&text)
            .with_context(|| format!("line {}: not an export line", n + 1))?;
        match parsed {
            ExportLine::Log { log_id, .. } => {
                log = Some(
                    LogId::parse(&log_id)
                        .map_err(|_| anyhow::anyhow!("line {}: bad log id", n + 1))?,
                );
            }
            ExportLine::Entry(e) => entries.push(*e),
            ExportLine::Checkpoint { note, .. } => checkpoints.push(note),
        }
    }
    let Some(log) = log else {
        bail!("the export has no log line");
    };
    let mut verifier = LogVerifier::new(log.clone());
    // Only notes that open under the given key count; their content, not
    // the export's copy of it, is what the tree is checked against.
    let mut opened = Vec::new();
    for note in &checkpoints {
        match isms_domain::audit::open_note(note, &key_name, &public) {
            Ok(cp) => opened.push((cp, true)),
            Err(_) => {
                // A note that does not verify is itself a failure.
                opened.push((
                    isms_domain::audit::Checkpoint {
                        origin: String::new(),
                        tree_size: 0,
                        root_hash: [0; 32],
                        timestamp: chrono::Utc::now(),
                    },
                    false,
                ));
            }
        }
    }
    opened.sort_by_key(|(cp, _)| cp.tree_size);
    let mut pending = opened.into_iter().peekable();
    for e in entries {
        let (entry, leaf) = e.into_entry(&log)?;
        while let Some((cp, ok)) = pending.next_if(|(c, _)| c.tree_size <= entry.seq) {
            verifier.check_checkpoint(&cp, ok);
        }
        if verifier.push_entry(&entry, &leaf).is_err() {
            break;
        }
    }
    for (cp, ok) in pending {
        verifier.check_checkpoint(&cp, ok);
    }
    report(out, &[verifier.finish()])
}
