-- Billing: accounts, the Stripe inbox, course purchases, seat snapshots, the billing audit log.
-- billing_plans is a platform reference table (no tenant_id): every role may read it, and lms_app
-- may not write it (REVOKE INSERT, UPDATE, DELETE in the migration); migrations own its rows.

ALTER TABLE billing_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_accounts
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE billing_webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_webhook_events
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE billing_course_purchases ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_course_purchases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_course_purchases
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE billing_seat_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_seat_snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_seat_snapshots
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE billing_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_audit_log
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE billing_overage_charges ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_overage_charges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_overage_charges
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
