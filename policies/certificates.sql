-- Certificates: issued certificates, per-course certificate policies, per-tenant certificate settings.

ALTER TABLE certificates ENABLE ROW LEVEL SECURITY;
ALTER TABLE certificates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON certificates
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE certificate_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE certificate_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON certificate_policies
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE certificate_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE certificate_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON certificate_settings
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
