-- Tenancy: the tenant row itself and its domains.

-- A tenant sees only its own row (branding, settings); writes go through the operator role.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = (select app.current_tenant()))
    WITH CHECK (id = (select app.current_tenant()));

ALTER TABLE tenant_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_domains
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- Administrative changes inside a tenant, readable by that tenant's admins only.
ALTER TABLE admin_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admin_audit_log
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
