-- Discussions: threads and posts per course, votes, follows, reports, and each course's switch.

ALTER TABLE course_discussion_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_discussion_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON course_discussion_settings
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE discussion_threads ENABLE ROW LEVEL SECURITY;
ALTER TABLE discussion_threads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON discussion_threads
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE discussion_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE discussion_posts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON discussion_posts
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE discussion_votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE discussion_votes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON discussion_votes
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE discussion_follows ENABLE ROW LEVEL SECURITY;
ALTER TABLE discussion_follows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON discussion_follows
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE discussion_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE discussion_reports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON discussion_reports
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
