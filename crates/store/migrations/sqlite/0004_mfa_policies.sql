-- TOTP enrolments, recovery codes, MFA login challenges and per-tenant
-- security policy (SQLite). Same logical schema as
-- migrations/postgres/0004_mfa_policies.sql.

-- The secret is stored wrapped (AES-256-GCM) under the master key, with
-- the tenant and user as associated data.
CREATE TABLE user_totp (
    user_id         BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    tenant_id       BLOB NOT NULL REFERENCES tenants (id),
    secret_wrapped  BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    last_step       INTEGER
) STRICT;

-- Only the SHA-256 of each normalised recovery code is stored.
CREATE TABLE recovery_codes (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    code_hash  BLOB NOT NULL CHECK (length(code_hash) = 32),
    created_at TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

CREATE TABLE mfa_challenges (
    token_hash  BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    user_id     BLOB NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
) STRICT;

CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

CREATE TABLE tenant_policies (
    tenant_id      BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id),
    access_policy  TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
