-- Envelope encryption (SQLite). Same logical schema as
-- migrations/postgres/0007_crypto.sql.
--
-- Key tables carry no foreign key to tenants: a tenant's first key is
-- created while the tenant itself is being provisioned (in the same
-- operation, before its row commits), and offboarding deletes keys
-- explicitly.
--
-- Data keys: one ring per tenant × classification, versions 1, 2, … of
-- which at most one is primary; each DEK stored wrapped (AES-256-GCM under
-- the master key, with the key id as associated data).
CREATE TABLE data_keys (
    tenant_id       BLOB NOT NULL,
    classification  TEXT NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
    version         INTEGER NOT NULL CHECK (version >= 1),
    state           TEXT NOT NULL CHECK (state IN ('primary', 'active', 'retired')),
    created_at      TEXT NOT NULL,
    rotated_at      TEXT,
    retired_at      TEXT,
    expires_at      TEXT NOT NULL,
    usage_count     INTEGER NOT NULL CHECK (usage_count >= 0),
    max_usage       INTEGER NOT NULL CHECK (max_usage >= 1),
    wrapped_key     BLOB NOT NULL,
    PRIMARY KEY (tenant_id, classification, version)
) STRICT;

CREATE UNIQUE INDEX data_keys_one_primary ON data_keys (tenant_id, classification)
    WHERE state = 'primary';

CREATE TABLE key_rings (
    tenant_id               BLOB NOT NULL,
    classification          TEXT NOT NULL,
    min_decryption_version  INTEGER NOT NULL CHECK (min_decryption_version >= 1),
    PRIMARY KEY (tenant_id, classification)
) STRICT;

-- Per-data-subject keys; `wrapped_key` NULL with `destroyed_at` set is the
-- tombstone of an erased subject (no new key is ever issued for it).
CREATE TABLE subject_keys (
    tenant_id     BLOB NOT NULL,
    subject_id    TEXT NOT NULL,
    version       INTEGER NOT NULL,
    wrapped_key   BLOB,
    created_at    TEXT NOT NULL,
    destroyed_at  TEXT,
    PRIMARY KEY (tenant_id, subject_id)
) STRICT;

CREATE TABLE server_keys (
    name         TEXT PRIMARY KEY NOT NULL,
    wrapped_key  BLOB NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;

-- Users' e-mail and display name move to envelopes (confidential); the
-- e-mail is found by a blind index. The application fills these columns
-- from the plaintext ones before migration 8 drops them.
ALTER TABLE users ADD COLUMN email_enc TEXT;
ALTER TABLE users ADD COLUMN email_bidx BLOB;
ALTER TABLE users ADD COLUMN email_key_version INTEGER;
ALTER TABLE users ADD COLUMN display_name_enc TEXT;
ALTER TABLE users ADD COLUMN display_name_key_version INTEGER;
CREATE UNIQUE INDEX users_email_bidx_live ON users (email_bidx) WHERE deleted_at IS NULL;
