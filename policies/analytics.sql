-- Analytics: course similarities for recommendations (computed nightly) and learners' weekly goals.

ALTER TABLE course_similarities ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_similarities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON course_similarities
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE learning_goals ENABLE ROW LEVEL SECURITY;
ALTER TABLE learning_goals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON learning_goals
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
