-- Risk management (PostgreSQL dialect). Same logical schema as
-- migrations/sqlite/0009_risk.sql. Set-valued fields (tags, targeted
-- properties, affected assets, contributions, planned controls, approvals)
-- are JSON text: they are read with their row and never joined on.
-- An exposure is stored as its risk (`risks`): the exposure is the risk's
-- natural key and its score is kept with it.

CREATE TABLE assets (
    id                          uuid PRIMARY KEY,
    tenant_id                   uuid NOT NULL REFERENCES tenants (id),
    name                        text NOT NULL,
    -- The description is sealed under the asset's classification
    -- (`internal` while unclassified), bound to table, column and row.
    description_enc             text NOT NULL,
    description_key_version     bigint NOT NULL,
    asset_type                  text NOT NULL,
    owner_id                    uuid,
    custodian                   text,
    classification              text CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
    confidentiality             bigint NOT NULL CHECK (confidentiality BETWEEN 1 AND 4),
    integrity                   bigint NOT NULL CHECK (integrity BETWEEN 1 AND 4),
    availability                bigint NOT NULL CHECK (availability BETWEEN 1 AND 4),
    business_value              bigint NOT NULL,
    location                    text,
    tags                        text NOT NULL,
    status                      text NOT NULL,
    last_reviewed_at            timestamptz,
    next_review_at              timestamptz,
    risk_score                  bigint,
    risk_level                  text,
    last_assessed_at            timestamptz,
    next_assessment_due         timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    deleted_at                  timestamptz
);

CREATE INDEX assets_tenant_live ON assets (tenant_id, id) WHERE deleted_at IS NULL;
CREATE INDEX assets_tenant_name ON assets (tenant_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX assets_tenant_due ON assets (tenant_id, next_assessment_due) WHERE deleted_at IS NULL;

CREATE TABLE threats (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    name             text NOT NULL,
    category         text NOT NULL,
    source           text,
    description      text NOT NULL,
    targets          text NOT NULL,
    base_likelihood  text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);

CREATE INDEX threats_tenant_live ON threats (tenant_id, id) WHERE deleted_at IS NULL;

-- One row per tenant whose default catalogue was seeded.
CREATE TABLE threat_catalogue_seeds (
    tenant_id  uuid PRIMARY KEY NOT NULL REFERENCES tenants (id),
    seeded_at  timestamptz NOT NULL
);

CREATE TABLE vulnerabilities (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    name             text NOT NULL,
    description      text NOT NULL,
    severity         text NOT NULL,
    cve              text,
    cwe              text,
    affected_assets  text NOT NULL,
    status           text NOT NULL,
    discovered_at    timestamptz NOT NULL,
    remediated_at    timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);

CREATE INDEX vulnerabilities_tenant_live ON vulnerabilities (tenant_id, id) WHERE deleted_at IS NULL;

CREATE TABLE risks (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    asset_id              uuid NOT NULL REFERENCES assets (id),
    threat_id             uuid NOT NULL REFERENCES threats (id),
    vulnerability_id      uuid REFERENCES vulnerabilities (id),
    inherent_impact       bigint NOT NULL,
    inherent_likelihood   bigint NOT NULL,
    inherent_score        bigint NOT NULL,
    inherent_level        text NOT NULL,
    residual_impact       bigint,
    residual_likelihood   bigint,
    residual_score        bigint,
    residual_level        text,
    assessed_at           timestamptz NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    deleted_at            timestamptz
);

-- The exposure is unique among live risks; a missing vulnerability counts
-- as one value (the nil id) so the threat alone is linked once.
CREATE UNIQUE INDEX risks_exposure_live ON risks
    (tenant_id, asset_id, threat_id, coalesce(vulnerability_id, '00000000-0000-0000-0000-000000000000'::uuid)) WHERE deleted_at IS NULL;
CREATE INDEX risks_tenant_live ON risks (tenant_id, id) WHERE deleted_at IS NULL;
CREATE INDEX risks_asset ON risks (asset_id) WHERE deleted_at IS NULL;
CREATE INDEX risks_tenant_level ON risks (tenant_id, inherent_level, id) WHERE deleted_at IS NULL;
CREATE INDEX risks_threat ON risks (threat_id) WHERE deleted_at IS NULL;
CREATE INDEX risks_vulnerability ON risks (vulnerability_id) WHERE deleted_at IS NULL;

-- Immutable history: rows are inserted, never updated.
CREATE TABLE risk_assessments (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    asset_id              uuid NOT NULL REFERENCES assets (id),
    risk_score            bigint NOT NULL,
    risk_level            text NOT NULL,
    required_mitigations  text NOT NULL,
    next_assessment_due   timestamptz NOT NULL,
    contributions         text NOT NULL,
    compliance_status     text NOT NULL,
    assessor              text NOT NULL,
    assessed_at           timestamptz NOT NULL
);

CREATE INDEX risk_assessments_asset ON risk_assessments (tenant_id, asset_id, id);

CREATE TABLE risk_treatments (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    risk_id            uuid NOT NULL UNIQUE REFERENCES risks (id),
    option             text NOT NULL,
    owner_id           uuid NOT NULL,
    status             text NOT NULL,
    due_date           date,
    -- The rest of the plan (controls, scores, approvals), as the domain
    -- serialises it.
    body               text NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE INDEX risk_treatments_tenant ON risk_treatments (tenant_id, status);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['assets', 'threats', 'threat_catalogue_seeds', 'vulnerabilities', 'risks',
                             'risk_assessments', 'risk_treatments'] LOOP
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
