-- Row-level security on tenant-scoped tables (PostgreSQL only; defence in
-- depth beneath the repositories' own tenant filters). Every operation of
-- the application runs in a transaction that first sets `isms.tenant_id`
-- to the caller's tenant, or to '*' for the few deliberately cross-tenant
-- operations (login by e-mail, refresh by token hash, provisioning). A
-- query without the setting sees and writes no rows at all.
--
-- Superusers bypass RLS: run the server as the least-privilege role
-- described in the README for these policies to apply. FORCE makes them
-- apply to the tables' owner too.

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_tenant_isolation ON users
    USING (current_setting('isms.tenant_id', true) = '*'
           OR tenant_id::text = current_setting('isms.tenant_id', true))
    WITH CHECK (current_setting('isms.tenant_id', true) = '*'
           OR tenant_id::text = current_setting('isms.tenant_id', true));

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_tenant_isolation ON sessions
    USING (current_setting('isms.tenant_id', true) = '*'
           OR tenant_id::text = current_setting('isms.tenant_id', true))
    WITH CHECK (current_setting('isms.tenant_id', true) = '*'
           OR tenant_id::text = current_setting('isms.tenant_id', true));

-- A refresh token is visible exactly when its session is (the subquery is
-- itself filtered by the sessions policy).
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_tenant_isolation ON refresh_tokens
    USING (EXISTS (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id))
    WITH CHECK (EXISTS (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id));
