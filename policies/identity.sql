-- Identity: tenant user accounts.

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- Identity: refresh-token families, one-time links (invitation, password reset), e-mail outbox.

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE action_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE action_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON action_tokens
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE email_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_outbox
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- Identity: SCIM bearer tokens and groups.

ALTER TABLE scim_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_tokens
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE user_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_groups
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- Identity: single sign-on providers and SAML replay protection.

ALTER TABLE sso_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_providers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_providers
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE saml_assertions_seen ENABLE ROW LEVEL SECURITY;
ALTER TABLE saml_assertions_seen FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON saml_assertions_seen
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- Identity: MFA recovery codes and per-tenant identity settings.

ALTER TABLE mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mfa_recovery_codes
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE identity_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON identity_settings
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- SECURITY DEFINER, deliberately: every API process learns, in one query across tenants, whose
-- access tokens were revoked lately (lms.identity.revocation). It returns user ids and instants
-- only, for revocations after p_since; tested in tests/integration/identity/test_token_revocation.py.
CREATE OR REPLACE FUNCTION app.recently_revoked_users(p_since timestamptz)
    RETURNS TABLE (user_id uuid, revoked_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT u.id, u.tokens_revoked_at FROM users u WHERE u.tokens_revoked_at > p_since
$$;
REVOKE ALL ON FUNCTION app.recently_revoked_users(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.recently_revoked_users(timestamptz) TO lms_app;

-- SECURITY DEFINER, deliberately: every API process learns, in one query across tenants, which
-- sign-in sessions (refresh-token families) ended lately, so that their access tokens (`sid`) stop
-- working. It returns family ids and instants only, for revocations after p_since; tested in
-- tests/integration/identity/test_session_revocation.py.
CREATE OR REPLACE FUNCTION app.recently_revoked_sessions(p_since timestamptz)
    RETURNS TABLE (session_id uuid, revoked_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT r.family_id, max(r.revoked_at) FROM refresh_tokens r
    WHERE r.revoked_at > p_since GROUP BY r.family_id
$$;
REVOKE ALL ON FUNCTION app.recently_revoked_sessions(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.recently_revoked_sessions(timestamptz) TO lms_app;
