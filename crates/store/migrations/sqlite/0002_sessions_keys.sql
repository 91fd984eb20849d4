-- Sessions, refresh-token families and token-signing keys (SQLite).
-- Same logical schema as migrations/postgres/0002_sessions_keys.sql.

CREATE TABLE sessions (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    user_id          BLOB NOT NULL REFERENCES users (id),
    created_at       TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    ip               TEXT,
    user_agent       TEXT,
    revoked_at       TEXT,
    mfa_verified_at  TEXT
) STRICT;

CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- Only the SHA-256 of each refresh token is stored.
CREATE TABLE refresh_tokens (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    session_id  BLOB NOT NULL REFERENCES sessions (id),
    token_hash  BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    rotated_at  TEXT
) STRICT;

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Private keys are stored wrapped (AES-256-GCM) under the master key.
CREATE TABLE signing_keys (
    kid                  TEXT PRIMARY KEY NOT NULL,
    public_key           BLOB NOT NULL,
    wrapped_private_key  BLOB NOT NULL,
    created_at           TEXT NOT NULL,
    retired_at           TEXT,
    verify_until         TEXT
) STRICT;
