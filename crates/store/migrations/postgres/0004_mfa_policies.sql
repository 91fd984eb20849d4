-- TOTP enrolments, recovery codes, MFA login challenges and per-tenant
-- security policy (PostgreSQL). Same logical schema as
-- migrations/sqlite/0004_mfa_policies.sql, with the row-level-security
-- policies of migration 3 applied to every new tenant-scoped table.

-- The secret is stored wrapped (AES-256-GCM) under the master key, with
-- the tenant and user as associated data.
CREATE TABLE user_totp (
    user_id         uuid PRIMARY KEY REFERENCES users (id),
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    secret_wrapped  bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    confirmed_at    timestamptz,
    last_step       bigint
);

-- Only the SHA-256 of each normalised recovery code is stored.
CREATE TABLE recovery_codes (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    user_id    uuid NOT NULL REFERENCES users (id),
    code_hash  bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

CREATE TABLE tenant_policies (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
    access_policy  text NOT NULL,  -- JSON, validated by the domain on write
    updated_at     timestamptz NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['user_totp', 'recovery_codes', 'mfa_challenges', 'tenant_policies'] LOOP
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
