-- GDPR retention policies and data-subject requests (SQLite). Same logical
-- schema as migrations/postgres/0011_gdpr.sql.

-- When an account's personal data was erased (Art. 17); the retention job
-- erases soft-deleted accounts that are not yet erased.
ALTER TABLE users ADD COLUMN erased_at TEXT;

-- How long records of each category are kept after their retention clock
-- starts (a session's end, a consent's withdrawal, an account's deletion,
-- a request's closing). No row: kept indefinitely, which the
-- gdpr_compliance check does not judge.
CREATE TABLE gdpr_retention_policies (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    category    TEXT NOT NULL CHECK (category IN
                  ('sessions', 'withdrawn_consents', 'deleted_accounts', 'closed_requests')),
    days        INTEGER NOT NULL CHECK (days BETWEEN 1 AND 36500),
    enforce     INTEGER NOT NULL DEFAULT 0 CHECK (enforce IN (0, 1)),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, category)
) STRICT;

-- Data-subject requests (Art. 15-17, 20) and their one-month deadline.
CREATE TABLE gdpr_requests (
    id                BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id         BLOB NOT NULL REFERENCES tenants (id),
    subject_type      TEXT NOT NULL CHECK (subject_type IN ('user', 'external')),
    subject_id        TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('access', 'export', 'erasure', 'rectification')),
    status            TEXT NOT NULL CHECK (status IN ('received', 'in_progress', 'completed', 'rejected')),
    requested_by      BLOB NOT NULL,
    created_at        TEXT NOT NULL,
    due_at            TEXT NOT NULL,
    completed_at      TEXT,
    rejection_reason  TEXT,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX gdpr_requests_tenant ON gdpr_requests (tenant_id, id);
CREATE INDEX gdpr_requests_open ON gdpr_requests (tenant_id, status);

-- The export of an access/export request: the JSON sealed under the
-- tenant's restricted key, downloadable once (then the payload is
-- dropped) until it expires.
CREATE TABLE gdpr_exports (
    request_id     BLOB PRIMARY KEY NOT NULL REFERENCES gdpr_requests (id),
    tenant_id      BLOB NOT NULL REFERENCES tenants (id),
    payload_enc    TEXT,
    key_version    INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    downloaded_at  TEXT
) STRICT;
