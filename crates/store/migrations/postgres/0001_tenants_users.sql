-- Tenants and users (PostgreSQL dialect). Same logical schema as
-- migrations/sqlite/0001_tenants_users.sql.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    name_key    text NOT NULL,
    status      text NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

CREATE UNIQUE INDEX tenants_name_key_live ON tenants (name_key) WHERE deleted_at IS NULL;

CREATE TABLE users (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    email                  text NOT NULL,
    display_name           text NOT NULL,
    role                   text NOT NULL CHECK (role IN ('admin', 'manager', 'analyst', 'auditor', 'viewer')),
    is_active              boolean NOT NULL,
    password_hash          text NOT NULL,
    password_changed_at    timestamptz,
    password_must_change   boolean NOT NULL DEFAULT false,
    last_login_at          timestamptz,
    last_access_review_at  timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    deleted_at             timestamptz
);

CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
CREATE INDEX users_tenant_id ON users (tenant_id, id);

CREATE TABLE server_state (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    created_at  timestamptz NOT NULL
);
