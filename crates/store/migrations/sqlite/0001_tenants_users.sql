-- Tenants and users (SQLite dialect). Same logical schema as
-- migrations/postgres/0001_tenants_users.sql: ids are UUIDv7 (16-byte
-- blobs here), timestamps RFC 3339 UTC text with microseconds.

CREATE TABLE tenants (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
) STRICT;

CREATE UNIQUE INDEX tenants_name_key_live ON tenants (name_key) WHERE deleted_at IS NULL;

CREATE TABLE users (
    id                     BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id              BLOB NOT NULL REFERENCES tenants (id),
    email                  TEXT NOT NULL,
    display_name           TEXT NOT NULL,
    role                   TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'analyst', 'auditor', 'viewer')),
    is_active              INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    password_hash          TEXT NOT NULL,
    password_changed_at    TEXT,
    password_must_change   INTEGER NOT NULL DEFAULT 0 CHECK (password_must_change IN (0, 1)),
    last_login_at          TEXT,
    last_access_review_at  TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    deleted_at             TEXT
) STRICT;

-- E-mail is unique across the server among live users.
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
CREATE INDEX users_tenant_id ON users (tenant_id, id);

-- One-shot server facts, e.g. that first-start provisioning happened.
CREATE TABLE server_state (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
