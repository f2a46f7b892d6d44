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

-- Course analytics rollups (src/lms/analytics/courses): tenant-owned, one policy each.

ALTER TABLE analytics_course_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_course_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_course_days
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE analytics_lesson_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_lesson_stats FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_lesson_stats
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE analytics_learners ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_learners FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_learners
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE analytics_rollup_marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_rollup_marks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_rollup_marks
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

-- Video analytics rollups (src/lms/analytics/videos): tenant-owned, one policy each.

ALTER TABLE analytics_video_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_video_buckets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_video_buckets
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE analytics_video_viewers ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_video_viewers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_video_viewers
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE analytics_video_quality ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_video_quality FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_video_quality
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE analytics_video_marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_video_marks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_video_marks
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
