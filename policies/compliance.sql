-- Compliance: training rules (assigned training) and pending syncs.

ALTER TABLE training_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE training_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON training_rules
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE compliance_sync_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE compliance_sync_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON compliance_sync_requests
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
