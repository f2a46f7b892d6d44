-- Organisation: bulk user imports.

ALTER TABLE user_imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_imports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_imports
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE org_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_groups
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
