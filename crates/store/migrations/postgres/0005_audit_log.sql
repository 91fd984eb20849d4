-- Tamper-evident audit log (PostgreSQL). Same logical schema as
-- migrations/sqlite/0005_audit_log.sql; see there for the model.
--
-- Entries, Merkle nodes and signed checkpoints can only be inserted:
-- triggers refuse UPDATE, DELETE and TRUNCATE, and the least-privilege
-- role of the README has no UPDATE/DELETE/TRUNCATE grant on them either.

CREATE TABLE audit_logs (
    log_id      text PRIMARY KEY,
    tenant_id   uuid REFERENCES tenants (id),
    size        bigint NOT NULL CHECK (size >= 0),
    frontier    bytea NOT NULL,
    root_hash   bytea NOT NULL CHECK (length(root_hash) = 32),
    updated_at  timestamptz NOT NULL
);

CREATE TABLE audit_entries (
    log_id            text NOT NULL,
    seq               bigint NOT NULL CHECK (seq >= 0),
    id                uuid NOT NULL UNIQUE,
    tenant_id         uuid,
    occurred_at       timestamptz NOT NULL,
    event_type        text NOT NULL,
    actor_user_id     uuid,
    resource_type     text,
    resource_id       text,
    outcome           text NOT NULL,
    ip                text,
    compliance_flags  text NOT NULL,
    risk_score        smallint NOT NULL CHECK (risk_score BETWEEN 0 AND 10),
    canonical         text NOT NULL,
    leaf_hash         bytea NOT NULL CHECK (length(leaf_hash) = 32),
    PRIMARY KEY (log_id, seq)
);

CREATE INDEX audit_entries_time ON audit_entries (log_id, occurred_at);
CREATE INDEX audit_entries_actor ON audit_entries (log_id, actor_user_id, occurred_at);
CREATE INDEX audit_entries_ip ON audit_entries (log_id, ip, occurred_at);
CREATE INDEX audit_entries_type ON audit_entries (log_id, event_type, seq);

CREATE TABLE audit_nodes (
    log_id     text NOT NULL,
    tenant_id  uuid,
    level      smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx        bigint NOT NULL CHECK (idx >= 0),
    hash       bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log_id, level, idx)
);

CREATE TABLE audit_checkpoints (
    log_id      text NOT NULL,
    tenant_id   uuid,
    tree_size   bigint NOT NULL CHECK (tree_size >= 0),
    root_hash   bytea NOT NULL CHECK (length(root_hash) = 32),
    signed_at   timestamptz NOT NULL,
    key_id      text NOT NULL,
    note        text NOT NULL,
    PRIMARY KEY (log_id, tree_size)
);

CREATE TABLE audit_log_keys (
    key_id               text PRIMARY KEY,
    key_name             text NOT NULL,
    public_key           bytea NOT NULL CHECK (length(public_key) = 32),
    wrapped_private_key  bytea NOT NULL,
    created_at           timestamptz NOT NULL,
    retired_at           timestamptz
);

CREATE TABLE alerts (
    id                uuid PRIMARY KEY,
    tenant_id         uuid,
    log_id            text NOT NULL,
    entry_seq         bigint NOT NULL,
    entry_id          uuid NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH')),
    event_type        text NOT NULL,
    risk_score        smallint NOT NULL,
    description       text NOT NULL,
    required_actions  text NOT NULL,
    created_at        timestamptz NOT NULL,
    acknowledged_at   timestamptz,
    acknowledged_by   uuid,
    ack_comment       text,
    scheduled_at      timestamptz
);

CREATE INDEX alerts_tenant ON alerts (tenant_id, id);
CREATE INDEX alerts_unscheduled ON alerts (created_at) WHERE scheduled_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    alert_id         uuid NOT NULL REFERENCES alerts (id),
    tenant_id        uuid,
    target           text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status      integer,
    last_error       text,
    next_attempt_at  timestamptz NOT NULL,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE tenant_audit_policies (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id),
    policy      text NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE FUNCTION isms_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_entries', 'audit_nodes', 'audit_checkpoints'] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I '
            'FOR EACH ROW EXECUTE FUNCTION isms_append_only()',
            t || '_append_only', t);
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION isms_append_only()',
            t || '_no_truncate', t);
    END LOOP;
END $$;

-- Tenant rows are visible in their tenant's scope; server-log rows
-- (tenant_id NULL) and the cross-tenant jobs (checkpointing, verify,
-- webhook delivery) need the server scope '*'.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_logs', 'audit_entries', 'audit_nodes', 'audit_checkpoints',
                             'alerts', 'webhook_deliveries', 'tenant_audit_policies'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I '
            'USING (current_setting(''isms.tenant_id'', true) = ''*'' '
            '       OR tenant_id::text = current_setting(''isms.tenant_id'', true)) '
            'WITH CHECK (current_setting(''isms.tenant_id'', true) = ''*'' '
            '       OR tenant_id::text = current_setting(''isms.tenant_id'', true))',
            t || '_tenant_isolation', t);
    END LOOP;
END $$;
