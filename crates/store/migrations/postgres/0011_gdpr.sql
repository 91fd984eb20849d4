-- GDPR retention policies and data-subject requests (PostgreSQL). Same
-- logical schema as migrations/sqlite/0011_gdpr.sql; see there.

ALTER TABLE users ADD COLUMN erased_at timestamptz;

CREATE TABLE gdpr_retention_policies (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    category    text NOT NULL CHECK (category IN
                  ('sessions', 'withdrawn_consents', 'deleted_accounts', 'closed_requests')),
    days        integer NOT NULL CHECK (days BETWEEN 1 AND 36500),
    enforce     boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, category)
);

CREATE TABLE gdpr_requests (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    subject_type      text NOT NULL CHECK (subject_type IN ('user', 'external')),
    subject_id        text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('access', 'export', 'erasure', 'rectification')),
    status            text NOT NULL CHECK (status IN ('received', 'in_progress', 'completed', 'rejected')),
    requested_by      uuid NOT NULL,
    created_at        timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    completed_at      timestamptz,
    rejection_reason  text,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX gdpr_requests_tenant ON gdpr_requests (tenant_id, id);
CREATE INDEX gdpr_requests_open ON gdpr_requests (tenant_id, status);

CREATE TABLE gdpr_exports (
    request_id     uuid PRIMARY KEY REFERENCES gdpr_requests (id),
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    payload_enc    text,
    key_version    integer NOT NULL,
    bytes          bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    downloaded_at  timestamptz
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['gdpr_retention_policies', 'gdpr_requests', 'gdpr_exports'] LOOP
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
