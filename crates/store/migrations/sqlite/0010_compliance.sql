-- Compliance monitor (SQLite). Same logical schema as
-- migrations/postgres/0010_compliance.sql. (0009 is reserved for the risk
-- register.)
--
-- Check results are immutable history: every run appends rows, nothing
-- rewrites them. The latest result per check is the current state.
CREATE TABLE compliance_results (
    id              BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id       BLOB NOT NULL REFERENCES tenants (id),
    check_id        TEXT NOT NULL,
    severity        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PASSED', 'WARNING', 'FAILED', 'ERROR')),
    message         TEXT NOT NULL,
    details         TEXT NOT NULL,
    recommendation  TEXT,
    controls        TEXT NOT NULL,
    ran_at          TEXT NOT NULL
) STRICT;
CREATE INDEX compliance_results_latest ON compliance_results (tenant_id, check_id, ran_at);

CREATE TRIGGER compliance_results_no_update BEFORE UPDATE ON compliance_results
BEGIN SELECT RAISE(ABORT, 'compliance_results is append-only'); END;

-- The overall status and score after each run (the score history).
CREATE TABLE compliance_scores (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    overall_status   TEXT NOT NULL,
    score_tenths     INTEGER NOT NULL CHECK (score_tenths BETWEEN 0 AND 1000),
    critical_issues  INTEGER NOT NULL CHECK (critical_issues >= 0),
    warnings         INTEGER NOT NULL CHECK (warnings >= 0),
    ran_at           TEXT NOT NULL
) STRICT;
CREATE INDEX compliance_scores_tenant ON compliance_scores (tenant_id, id);

CREATE TRIGGER compliance_scores_no_update BEFORE UPDATE ON compliance_scores
BEGIN SELECT RAISE(ABORT, 'compliance_scores is append-only'); END;

-- Per-tenant check configuration (frequency, severity, thresholds) as the
-- JSON of `CheckConfig`; no row means the defaults.
CREATE TABLE compliance_configs (
    tenant_id   BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id),
    config      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- Access reviews (Annex A 5.18). The latest one of a user is also kept in
-- users.last_access_review_at, which the access_reviews check reads.
CREATE TABLE access_reviews (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id    BLOB NOT NULL REFERENCES tenants (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    reviewer_id  BLOB NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('keep', 'modify', 'revoke')),
    comment      TEXT,
    reviewed_at  TEXT NOT NULL
) STRICT;
CREATE INDEX access_reviews_user ON access_reviews (tenant_id, user_id, reviewed_at);

-- Statement of Applicability decisions; controls without a row take the
-- catalogue's defaults.
CREATE TABLE soa_decisions (
    tenant_id      BLOB NOT NULL REFERENCES tenants (id),
    control_id     TEXT NOT NULL,
    applicable     INTEGER NOT NULL CHECK (applicable IN (0, 1)),
    justification  TEXT,
    status         TEXT NOT NULL,
    owner_id       BLOB,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, control_id)
) STRICT;

-- Signed compliance reports: the canonical JSON that was signed, the
-- signature and the checkpoint it was built against.
CREATE TABLE compliance_reports (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id     BLOB NOT NULL REFERENCES tenants (id),
    generated_at  TEXT NOT NULL,
    report        TEXT NOT NULL,
    signature     TEXT NOT NULL,
    key_id        TEXT NOT NULL
) STRICT;
CREATE INDEX compliance_reports_tenant ON compliance_reports (tenant_id, id);

-- Leases that make a scheduled job run on one instance only: a row per
-- job × tenant × check, held by one instance until it expires.
CREATE TABLE job_leases (
    name        TEXT NOT NULL,
    tenant_id   BLOB NOT NULL,
    check_id    TEXT NOT NULL,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (name, tenant_id, check_id)
) STRICT;

-- GDPR consents and the other lawful bases (Art. 6(1)). The subject is a
-- user of the tenant or an opaque external id, never an e-mail address.
CREATE TABLE gdpr_consents (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id     BLOB NOT NULL REFERENCES tenants (id),
    subject_type  TEXT NOT NULL CHECK (subject_type IN ('user', 'external')),
    subject_id    TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    lawful_basis  TEXT NOT NULL,
    given_at      TEXT NOT NULL,
    withdrawn_at  TEXT,
    evidence      TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX gdpr_consents_tenant ON gdpr_consents (tenant_id, id);
