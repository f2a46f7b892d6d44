-- Learning: enrolments, lesson progress, the progress-event log, the learning outbox.

ALTER TABLE enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON enrollments
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE lesson_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE lesson_progress FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lesson_progress
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE progress_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE progress_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON progress_events
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE learning_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE learning_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON learning_outbox
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE progress_dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE progress_dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON progress_dead_letters
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
