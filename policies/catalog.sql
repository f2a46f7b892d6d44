-- Catalogue: programs, courses, modules, lessons, versions, program membership.
-- A row is a tenant's own (tenant_id set) or part of the platform-shared catalogue (tenant_id NULL).
-- Tenants read and write their own rows; they only READ shared rows, and only with a tenant bound
-- (no tenant = zero rows still holds). Shared rows are written by lms_operator (BYPASSRLS), never by
-- lms_app: WITH CHECK of tenant_isolation rejects a NULL tenant_id, and shared_catalogue_read is
-- SELECT-only.

ALTER TABLE programs ENABLE ROW LEVEL SECURITY;
ALTER TABLE programs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON programs
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
CREATE POLICY shared_catalogue_read ON programs FOR SELECT
    USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL);

ALTER TABLE courses ENABLE ROW LEVEL SECURITY;
ALTER TABLE courses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON courses
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
CREATE POLICY shared_catalogue_read ON courses FOR SELECT
    USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL);

ALTER TABLE modules ENABLE ROW LEVEL SECURITY;
ALTER TABLE modules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON modules
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
CREATE POLICY shared_catalogue_read ON modules FOR SELECT
    USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL);

ALTER TABLE lessons ENABLE ROW LEVEL SECURITY;
ALTER TABLE lessons FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lessons
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
CREATE POLICY shared_catalogue_read ON lessons FOR SELECT
    USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL);

ALTER TABLE course_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON course_versions
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
CREATE POLICY shared_catalogue_read ON course_versions FOR SELECT
    USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL);

ALTER TABLE program_courses ENABLE ROW LEVEL SECURITY;
ALTER TABLE program_courses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON program_courses
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
CREATE POLICY shared_catalogue_read ON program_courses FOR SELECT
    USING (tenant_id IS NULL AND (select app.current_tenant()) IS NOT NULL);

-- A tenant's opt-in to a shared course: learners see and join only the shared courses offered.
ALTER TABLE shared_course_offers ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared_course_offers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON shared_course_offers
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
