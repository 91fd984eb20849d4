-- Per-tenant risk matrices (PostgreSQL); see the SQLite migration.
CREATE TABLE risk_matrices (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id),
    spec        text NOT NULL,
    updated_at  timestamptz NOT NULL
);

ALTER TABLE risk_matrices ENABLE ROW LEVEL SECURITY;
ALTER TABLE risk_matrices FORCE ROW LEVEL SECURITY;
CREATE POLICY risk_matrices_tenant_isolation ON risk_matrices
    USING (current_setting('isms.tenant_id', true) = '*'
           OR tenant_id::text = current_setting('isms.tenant_id', true))
    WITH CHECK (current_setting('isms.tenant_id', true) = '*'
           OR tenant_id::text = current_setting('isms.tenant_id', true));
