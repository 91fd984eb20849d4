-- Per-tenant risk matrices (SQLite). Same logical schema as
-- migrations/postgres/0012_risk_matrix.sql. The matrix is the JSON of
-- `RiskMatrixSpec`, validated before it is stored; no row means the
-- default 4 x 5 matrix.
CREATE TABLE risk_matrices (
    tenant_id   BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id),
    spec        TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
