//! The tamper-evident audit log: entries and their canonical encoding, the
//! RFC 9162 Merkle tree with proofs, signed checkpoints (C2SP formats), the
//! verifier, and the rules that score events and raise alerts.

mod checkpoint;
mod entry;
mod merkle;
mod scoring;
mod verify;

pub use checkpoint::{
    Checkpoint, CheckpointError, log_key_wrap_aad, note_key_id, open_note, open_signed_note,
    parse_verifier_key, sign_note, verifier_key,
};
pub use entry::{
    AuditEntry, AuditRecord, ComplianceFlag, ENCODING_VERSION, EncodingError, InvalidLogId, LogId,
    MAX_DETAILS_BYTES,
};
pub use merkle::{
    Frontier, Hash, MerkleError, NodeId, ProofPlan, consistency_proof_plan, empty_root,
    inclusion_proof_plan, leaf_hash, node_hash, root_from_leaves, verify_consistency,
    verify_inclusion,
};
pub use scoring::{
    ALERT_THRESHOLD, AlertDraft, AlertSeverity, AuditPolicy, AuditPolicyError, FlagInput, MAX_RISK,
    RiskCategory, RiskContext, RiskTable, alert_for, category_of, flags_for, score,
};
pub use verify::{FailureKind, IndexedColumns, LogVerifier, RawEntry, VerifyFailure, VerifyReport};
