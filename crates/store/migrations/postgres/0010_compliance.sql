-- Compliance monitor (PostgreSQL). Same logical schema as
-- migrations/sqlite/0010_compliance.sql; see there for the model.
CREATE TABLE compliance_results (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    check_id        text NOT NULL,
    severity        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('PASSED', 'WARNING', 'FAILED', 'ERROR')),
    message         text NOT NULL,
    details         text NOT NULL,
    recommendation  text,
    controls        text NOT NULL,
    ran_at          timestamptz NOT NULL
);
CREATE INDEX compliance_results_latest ON compliance_results (tenant_id, check_id, ran_at);

CREATE TABLE compliance_scores (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    overall_status   text NOT NULL,
    score_tenths     integer NOT NULL CHECK (score_tenths BETWEEN 0 AND 1000),
    critical_issues  integer NOT NULL CHECK (critical_issues >= 0),
    warnings         integer NOT NULL CHECK (warnings >= 0),
    ran_at           timestamptz NOT NULL
);
CREATE INDEX compliance_scores_tenant ON compliance_scores (tenant_id, id);

CREATE FUNCTION compliance_history_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER compliance_results_no_update BEFORE UPDATE ON compliance_results
    FOR EACH ROW EXECUTE FUNCTION compliance_history_is_immutable();
CREATE TRIGGER compliance_scores_no_update BEFORE UPDATE ON compliance_scores
    FOR EACH ROW EXECUTE FUNCTION compliance_history_is_immutable();

CREATE TABLE compliance_configs (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id),
    config      text NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE access_reviews (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    reviewer_id  uuid NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('keep', 'modify', 'revoke')),
    comment      text,
    reviewed_at  timestamptz NOT NULL
);
CREATE INDEX access_reviews_user ON access_reviews (tenant_id, user_id, reviewed_at);

CREATE TABLE soa_decisions (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    control_id     text NOT NULL,
    applicable     boolean NOT NULL,
    justification  text,
    status         text NOT NULL,
    owner_id       uuid,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, control_id)
);

CREATE TABLE compliance_reports (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    generated_at  timestamptz NOT NULL,
    report        text NOT NULL,
    signature     text NOT NULL,
    key_id        text NOT NULL
);
CREATE INDEX compliance_reports_tenant ON compliance_reports (tenant_id, id);

CREATE TABLE job_leases (
    name        text NOT NULL,
    tenant_id   uuid NOT NULL,
    check_id    text NOT NULL,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (name, tenant_id, check_id)
);

CREATE TABLE gdpr_consents (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    subject_type  text NOT NULL CHECK (subject_type IN ('user', 'external')),
    subject_id    text NOT NULL,
    purpose       text NOT NULL,
    lawful_basis  text NOT NULL,
    given_at      timestamptz NOT NULL,
    withdrawn_at  timestamptz,
    evidence      text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX gdpr_consents_tenant ON gdpr_consents (tenant_id, id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['compliance_results', 'compliance_scores', 'compliance_configs',
                             'access_reviews', 'soa_decisions', 'compliance_reports', 'job_leases',
                             'gdpr_consents'] LOOP
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
