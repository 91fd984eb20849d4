-- Sessions, refresh-token families and token-signing keys (PostgreSQL).
-- Same logical schema as migrations/sqlite/0002_sessions_keys.sql.

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    user_id          uuid NOT NULL REFERENCES users (id),
    created_at       timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    ip               text,
    user_agent       text,
    revoked_at       timestamptz,
    mfa_verified_at  timestamptz
);

CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id),
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid                  text PRIMARY KEY,
    public_key           bytea NOT NULL,
    wrapped_private_key  bytea NOT NULL,
    created_at           timestamptz NOT NULL,
    retired_at           timestamptz,
    verify_until         timestamptz
);
