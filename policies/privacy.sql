-- Privacy: personal data exports, erasures, and each tenant's erasure policy.

ALTER TABLE privacy_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE privacy_exports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON privacy_exports
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE privacy_erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE privacy_erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON privacy_erasures
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE privacy_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE privacy_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON privacy_settings
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
