-- Assessments: question banks, questions, quizzes, attempts, assignments, submissions, peer reviews, outbox.

ALTER TABLE question_banks ENABLE ROW LEVEL SECURITY;
ALTER TABLE question_banks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON question_banks
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE questions ENABLE ROW LEVEL SECURITY;
ALTER TABLE questions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON questions
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE quizzes ENABLE ROW LEVEL SECURITY;
ALTER TABLE quizzes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON quizzes
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE quiz_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE quiz_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON quiz_attempts
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assignments
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE assignment_submissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE assignment_submissions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assignment_submissions
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE submission_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON submission_versions
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE peer_reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE peer_reviews FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON peer_reviews
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE assessment_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE assessment_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assessment_outbox
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
