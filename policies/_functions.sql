-- Functions every tenant policy relies on. Source of truth; migrations carry the same SQL inline.

CREATE SCHEMA IF NOT EXISTS app;

-- The tenant bound to the current transaction, or NULL (= zero rows) when none is bound.
-- STABLE so the planner evaluates it once per statement inside `(select app.current_tenant())`.
CREATE OR REPLACE FUNCTION app.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- SECURITY DEFINER, deliberately: host resolution runs before any tenant is bound, when lms_app
-- can see no tenant_domains row. It returns at most the one tenant an exact hostname names and
-- nothing else; tested in tests/rls/test_resolve_function.py.
CREATE OR REPLACE FUNCTION app.resolve_tenant(p_host text, p_base_domain text)
    RETURNS TABLE (id uuid, slug text, name text, status text, branding jsonb)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT t.id, t.slug::text, t.name::text, t.status::text, t.branding
      FROM tenants t JOIN tenant_domains d ON d.tenant_id = t.id
     WHERE d.hostname = lower(p_host) AND d.verified
    UNION ALL
    SELECT t.id, t.slug::text, t.name::text, t.status::text, t.branding
      FROM tenants t
     WHERE p_base_domain <> '' AND lower(p_host) = t.slug || '.' || lower(p_base_domain)
    LIMIT 1
$$;
REVOKE ALL ON FUNCTION app.resolve_tenant(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.resolve_tenant(text, text) TO lms_app;
