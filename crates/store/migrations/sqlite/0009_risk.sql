-- Risk management (SQLite dialect). Same logical schema as
-- migrations/postgres/0009_risk.sql. Set-valued fields (tags, targeted
-- properties, affected assets, contributions, planned controls, approvals)
-- are JSON text: they are read with their row and never joined on.
-- An exposure is stored as its risk (`risks`): the exposure is the risk's
-- natural key and its score is kept with it.

CREATE TABLE assets (
    id                          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id                   BLOB NOT NULL REFERENCES tenants (id),
    name                        TEXT NOT NULL,
    -- The description is sealed under the asset's classification
    -- (`internal` while unclassified), bound to table, column and row.
    description_enc             TEXT NOT NULL,
    description_key_version     INTEGER NOT NULL,
    asset_type                  TEXT NOT NULL,
    owner_id                    BLOB,
    custodian                   TEXT,
    classification              TEXT CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
    confidentiality             INTEGER NOT NULL CHECK (confidentiality BETWEEN 1 AND 4),
    integrity                   INTEGER NOT NULL CHECK (integrity BETWEEN 1 AND 4),
    availability                INTEGER NOT NULL CHECK (availability BETWEEN 1 AND 4),
    business_value              INTEGER NOT NULL,
    location                    TEXT,
    tags                        TEXT NOT NULL,
    status                      TEXT NOT NULL,
    last_reviewed_at            TEXT,
    next_review_at              TEXT,
    risk_score                  INTEGER,
    risk_level                  TEXT,
    last_assessed_at            TEXT,
    next_assessment_due         TEXT,
    created_at                  TEXT NOT NULL,
    updated_at                  TEXT NOT NULL,
    deleted_at                  TEXT
) STRICT;

CREATE INDEX assets_tenant_live ON assets (tenant_id, id) WHERE deleted_at IS NULL;
CREATE INDEX assets_tenant_name ON assets (tenant_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX assets_tenant_due ON assets (tenant_id, next_assessment_due) WHERE deleted_at IS NULL;

CREATE TABLE threats (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    name             TEXT NOT NULL,
    category         TEXT NOT NULL,
    source           TEXT,
    description      TEXT NOT NULL,
    targets          TEXT NOT NULL,
    base_likelihood  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT
) STRICT;

CREATE INDEX threats_tenant_live ON threats (tenant_id, id) WHERE deleted_at IS NULL;

-- One row per tenant whose default catalogue was seeded.
CREATE TABLE threat_catalogue_seeds (
    tenant_id  BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id),
    seeded_at  TEXT NOT NULL
) STRICT;

CREATE TABLE vulnerabilities (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    severity         TEXT NOT NULL,
    cve              TEXT,
    cwe              TEXT,
    affected_assets  TEXT NOT NULL,
    status           TEXT NOT NULL,
    discovered_at    TEXT NOT NULL,
    remediated_at    TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT
) STRICT;

CREATE INDEX vulnerabilities_tenant_live ON vulnerabilities (tenant_id, id) WHERE deleted_at IS NULL;

CREATE TABLE risks (
    id                    BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id             BLOB NOT NULL REFERENCES tenants (id),
    asset_id              BLOB NOT NULL REFERENCES assets (id),
    threat_id             BLOB NOT NULL REFERENCES threats (id),
    vulnerability_id      BLOB REFERENCES vulnerabilities (id),
    inherent_impact       INTEGER NOT NULL,
    inherent_likelihood   INTEGER NOT NULL,
    inherent_score        INTEGER NOT NULL,
    inherent_level        TEXT NOT NULL,
    residual_impact       INTEGER,
    residual_likelihood   INTEGER,
    residual_score        INTEGER,
    residual_level        TEXT,
    assessed_at           TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    deleted_at            TEXT
) STRICT;

-- The exposure is unique among live risks; a missing vulnerability counts
-- as one value (the nil id) so the threat alone is linked once.
CREATE UNIQUE INDEX risks_exposure_live ON risks
    (tenant_id, asset_id, threat_id, coalesce(vulnerability_id, zeroblob(16))) WHERE deleted_at IS NULL;
CREATE INDEX risks_tenant_live ON risks (tenant_id, id) WHERE deleted_at IS NULL;
CREATE INDEX risks_asset ON risks (asset_id) WHERE deleted_at IS NULL;
CREATE INDEX risks_tenant_level ON risks (tenant_id, inherent_level, id) WHERE deleted_at IS NULL;
CREATE INDEX risks_threat ON risks (threat_id) WHERE deleted_at IS NULL;
CREATE INDEX risks_vulnerability ON risks (vulnerability_id) WHERE deleted_at IS NULL;

-- Immutable history: rows are inserted, never updated.
CREATE TABLE risk_assessments (
    id                    BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id             BLOB NOT NULL REFERENCES tenants (id),
    asset_id              BLOB NOT NULL REFERENCES assets (id),
    risk_score            INTEGER NOT NULL,
    risk_level            TEXT NOT NULL,
    required_mitigations  TEXT NOT NULL,
    next_assessment_due   TEXT NOT NULL,
    contributions         TEXT NOT NULL,
    compliance_status     TEXT NOT NULL,
    assessor              TEXT NOT NULL,
    assessed_at           TEXT NOT NULL
) STRICT;

CREATE INDEX risk_assessments_asset ON risk_assessments (tenant_id, asset_id, id);

CREATE TABLE risk_treatments (
    id                 BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    tenant_id          BLOB NOT NULL REFERENCES tenants (id),
    risk_id            BLOB NOT NULL UNIQUE REFERENCES risks (id),
    option             TEXT NOT NULL,
    owner_id           BLOB NOT NULL,
    status             TEXT NOT NULL,
    due_date           TEXT,
    -- The rest of the plan (controls, scores, approvals), as the domain
    -- serialises it.
    body               TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE INDEX risk_treatments_tenant ON risk_treatments (tenant_id, status);
