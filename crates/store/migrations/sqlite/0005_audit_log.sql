-- Tamper-evident audit log (SQLite). Same logical schema as
-- migrations/postgres/0005_audit_log.sql.
--
-- One append-only log per tenant plus one for server-level events
-- (`log_id` = 'tenant:<uuid>' or 'server'). Entries, Merkle nodes and
-- signed checkpoints can only be inserted: the triggers below refuse
-- UPDATE and DELETE (SQLite has no TRUNCATE; with a DELETE trigger in
-- place it cannot take the truncate shortcut either). Tampering by
-- someone who drops the triggers is what `isms audit verify` detects.

-- The head of each log: its size and the compact range (the perfect
-- subtree hashes covering [0, size)) from which the next append computes
-- new nodes without reading the tree. Appends lock this row first, which
-- serialises them per log.
CREATE TABLE audit_logs (
    log_id      TEXT PRIMARY KEY NOT NULL,
    tenant_id   BLOB REFERENCES tenants (id),
    size        INTEGER NOT NULL CHECK (size >= 0),
    frontier    BLOB NOT NULL,
    root_hash   BLOB NOT NULL CHECK (length(root_hash) = 32),
    updated_at  TEXT NOT NULL
) STRICT;

-- `canonical` holds the entry exactly as hashed (docs/audit-format.md)
-- and is what every read decodes; the other columns are copies of some of
-- its fields for filtering. Verification re-hashes `canonical`.
CREATE TABLE audit_entries (
    log_id            TEXT NOT NULL,
    seq               INTEGER NOT NULL CHECK (seq >= 0),
    id                BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    tenant_id         BLOB,
    occurred_at       TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    actor_user_id     BLOB,
    resource_type     TEXT,
    resource_id       TEXT,
    outcome           TEXT NOT NULL,
    ip                TEXT,
    compliance_flags  TEXT NOT NULL,
    risk_score        INTEGER NOT NULL CHECK (risk_score BETWEEN 0 AND 10),
    canonical         TEXT NOT NULL,
    leaf_hash         BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    PRIMARY KEY (log_id, seq)
) STRICT;
CREATE INDEX audit_entries_actor ON audit_entries (log_id, actor_user_id, occurred_at);
CREATE INDEX audit_entries_ip ON audit_entries (log_id, ip, occurred_at);
CREATE INDEX audit_entries_type ON audit_entries (log_id, event_type, seq);

-- Perfect-subtree hashes: (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level). Proofs read O(log n) of them.
CREATE TABLE audit_nodes (
    log_id     TEXT NOT NULL,
    tenant_id  BLOB,
    level      INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx        INTEGER NOT NULL CHECK (idx >= 0),
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log_id, level, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_checkpoints (
    log_id      TEXT NOT NULL,
    tenant_id   BLOB,
    tree_size   INTEGER NOT NULL CHECK (tree_size >= 0),
    root_hash   BLOB NOT NULL CHECK (length(root_hash) = 32),
    signed_at   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (log_id, tree_size)
) STRICT;

-- The Ed25519 key that signs checkpoints; the private half wrapped
-- (AES-256-GCM) under the master key.
CREATE TABLE audit_log_keys (
    key_id               TEXT PRIMARY KEY NOT NULL,
    key_name             TEXT NOT NULL,
    public_key           BLOB NOT NULL CHECK (length(public_key) = 32),
    wrapped_private_key  BLOB NOT NULL,
    created_at           TEXT NOT NULL,
    retired_at           TEXT
) STRICT;

CREATE TABLE alerts (
    id                BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id         BLOB,
    log_id            TEXT NOT NULL,
    entry_seq         INTEGER NOT NULL,
    entry_id          BLOB NOT NULL,
    severity          TEXT NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH')),
    event_type        TEXT NOT NULL,
    risk_score        INTEGER NOT NULL,
    description       TEXT NOT NULL,
    required_actions  TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    acknowledged_at   TEXT,
    acknowledged_by   BLOB,
    ack_comment       TEXT,
    scheduled_at      TEXT
) STRICT;

CREATE INDEX alerts_tenant ON alerts (tenant_id, id);
CREATE INDEX alerts_unscheduled ON alerts (created_at) WHERE scheduled_at IS NULL;

-- One row per alert and webhook target; the sender retries with backoff.
CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    alert_id         BLOB NOT NULL REFERENCES alerts (id),
    tenant_id        BLOB,
    target           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER,
    last_error       TEXT,
    next_attempt_at  TEXT NOT NULL,
    delivered_at     TEXT,
    created_at       TEXT NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE tenant_audit_policies (
    tenant_id   BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id),
    policy      TEXT NOT NULL,  -- JSON, validated by the domain on write
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
