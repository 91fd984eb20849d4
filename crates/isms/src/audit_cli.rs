//! `isms audit verify` and `isms audit export`: the whole-log verifier on
//! the database, the export format (JSON lines), and the offline verifier
//! of an export that needs nothing but the file and the log's public key.

use std::io::{BufRead, Write};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use isms_domain::audit::{LogId, LogVerifier, RawEntry, VerifyReport};
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
    /// One entry: its canonical encoding (itself JSON, kept as a string so
    /// no tool re-formats the bytes the leaf hash covers) and that hash.
    Entry {
        seq: u64,
        canonical: String,
        /// Base64.
        leaf_hash: String,
    },
    Checkpoint {
        tree_size: u64,
        /// Base64.
        root_hash: String,
        timestamp: chrono::DateTime<chrono::Utc>,
        note: String,
    },
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
    // A checkpoint of the whole log first, so the export is signed to its
    // last entry.
    services
        .app
        .audit_log
        .checkpoint_log(&log)
        .await
        .map_err(|e| anyhow::anyhow!("checkpointing: {e}"))?;
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
        for raw in &batch {
            writeln!(
                out,
                "{}",
                line(&ExportLine::Entry {
                    seq: raw.seq,
                    canonical: String::from_utf8_lossy(&raw.canonical).into_owned(),
                    leaf_hash: B64.encode(raw.leaf_hash),
                })?
            )?;
            from = raw.seq + 1;
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
            ExportLine::Entry {
                seq,
                canonical,
                leaf_hash,
            } => entries.push(RawEntry {
                seq,
                canonical: canonical.into_bytes(),
                leaf_hash: decode_hash(&leaf_hash)
                    .with_context(|| format!("line {}: leaf_hash", n + 1))?,
                // An export carries only what the hashes cover.
                indexed: None,
            }),
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
    for raw in &entries {
        while let Some((cp, ok)) = pending.next_if(|(c, _)| c.tree_size <= raw.seq) {
            verifier.check_checkpoint(&cp, ok);
        }
        if verifier.push(raw).is_err() {
            break;
        }
    }
    for (cp, ok) in pending {
        verifier.check_checkpoint(&cp, ok);
    }
    report(out, &[verifier.finish_signed()])
}
