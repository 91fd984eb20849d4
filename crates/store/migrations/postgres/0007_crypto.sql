-- Envelope encryption (PostgreSQL). Same logical schema as
-- migrations/sqlite/0007_crypto.sql; see there for the model.
CREATE TABLE data_keys (
    tenant_id       uuid NOT NULL,
    classification  text NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
    version         integer NOT NULL CHECK (version >= 1),
    state           text NOT NULL CHECK (state IN ('primary', 'active', 'retired')),
    created_at      timestamptz NOT NULL,
    rotated_at      timestamptz,
    retired_at      timestamptz,
    expires_at      timestamptz NOT NULL,
    usage_count     bigint NOT NULL CHECK (usage_count >= 0),
    max_usage       bigint NOT NULL CHECK (max_usage >= 1),
    wrapped_key     bytea NOT NULL,
    PRIMARY KEY (tenant_id, classification, version)
);

CREATE UNIQUE INDEX data_keys_one_primary ON data_keys (tenant_id, classification)
    WHERE state = 'primary';

CREATE TABLE key_rings (
    tenant_id               uuid NOT NULL,
    classification          text NOT NULL,
    min_decryption_version  integer NOT NULL CHECK (min_decryption_version >= 1),
    PRIMARY KEY (tenant_id, classification)
);

CREATE TABLE subject_keys (
    tenant_id     uuid NOT NULL,
    subject_id    text NOT NULL,
    version       integer NOT NULL,
    wrapped_key   bytea,
    created_at    timestamptz NOT NULL,
    destroyed_at  timestamptz,
    PRIMARY KEY (tenant_id, subject_id)
);

CREATE TABLE server_keys (
    name         text PRIMARY KEY,
    wrapped_key  bytea NOT NULL,
    created_at   timestamptz NOT NULL
);

ALTER TABLE users ADD COLUMN email_enc text;
ALTER TABLE users ADD COLUMN email_bidx bytea;
ALTER TABLE users ADD COLUMN email_key_version integer;
ALTER TABLE users ADD COLUMN display_name_enc text;
ALTER TABLE users ADD COLUMN display_name_key_version integer;
CREATE UNIQUE INDEX users_email_bidx_live ON users (email_bidx) WHERE deleted_at IS NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['data_keys', 'key_rings', 'subject_keys'] LOOP
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
