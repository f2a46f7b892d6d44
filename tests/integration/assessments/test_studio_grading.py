"""Grading in the browser's terms: the queue of the courses one teaches (filters), the grading page
with the rubric, a comment per criterion and feedback (field errors when a level is missing), and the
grade the learner then sees; other instructors and tenants see nothing."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.assignments.test_assignments import build_assignment, student_of
from tests.integration.catalog.test_studio_pages import create_course, headers_of, lesson_ids, module_ids, post
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_instructor_grades_a_submission_from_the_queue_with_the_rubric(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(client, make_user, login, tenant, pass_pct=50)
    teacher = browser_headers(author["Authorization"].removeprefix("Bearer "))
    student, learner = await student_of(client, make_user, login, tenant, course)
    site = secure_host(tenant)

    empty = await client.get(f"{site}/teach/grading", headers=teacher)
    assert empty.status_code == 200
    assert "Nothing to grade" in empty.text

    sent = await client.post(
        f"{course.base}/api/v1/assignments/{assignment_id}/submissions",
        data={"text": "Phishing findings, sentinel-7341"},
        headers=learner,
    )
    assert sent.status_code in (200, 201), sent.text
    queue = await client.get(f"{site}/teach/grading", headers=teacher)
    assert "Phishing report" in queue.text
    assert student.display_name in queue.text
    submission_id = sent.json()["id"]
    assert f"/teach/grading/{submission_id}" in queue.text
    late_only = await client.get(f"{site}/teach/grading?late=yes", headers=teacher)
    assert f"/teach/grading/{submission_id}" not in late_only.text

    url = f"{site}/teach/grading/{submission_id}"
    grading = await client.get(url, headers=teacher)
    assert "sentinel-7341" in grading.text
    assert 'name="level-analysis"' in grading.text
    missing = await client.post(url, data={"csrf_token": CSRF, "level-analysis": "strong"}, headers=teacher)
    assert missing.status_code == 422
    assert 'href="#level-writing"' in missing.text
    graded = await client.post(
        url,
        data={
            "csrf_token": CSRF,
            "level-analysis": "strong",
            "comment-analysis": "Sharp eye",
            "level-writing": "poor",
            "feedback": "Tidy the writing.",
        },
        headers=teacher,
        follow_redirects=False,
    )
    assert graded.status_code == 303, graded.text
    shown = await client.get(f"{site}{graded.headers['location']}", headers=teacher)
    assert "The grade is saved." in shown.text
    assert "60%" in shown.text  # 6 of 10 points
    assert "Sharp eye" in shown.text

    mine = await client.get(f"{course.base}/api/v1/assignment-submissions/{submission_id}", headers=learner)
    assert mine.json()["score_pct"] == 60.0
    assert mine.json()["feedback"] == "Tidy the writing."

    # A learner, another instructor of the tenant and another tenant's admin are kept out.
    learner_page = browser_headers(await bearer(login, student))
    assert (await client.get(f"{site}/teach/grading", headers=learner_page)).status_code == 403
    colleague = await make_user(tenant, roles=["instructor"])
    other = browser_headers(await bearer(login, colleague))
    assert f"/teach/grading/{submission_id}" not in (await client.get(f"{site}/teach/grading", headers=other)).text
    assert (await client.get(url, headers=other)).status_code == 404
    other_tenant = await make_tenant()
    stranger = browser_headers(await bearer(login, await make_user(other_tenant, roles=["tenant_admin"])))
    foreign = f"{secure_host(other_tenant)}/teach/grading/{submission_id}"
    assert (await client.get(foreign, headers=stranger)).status_code == 404


async def test_instructor_builds_an_assignment_with_the_rubric_builder(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, instructor)
    site = secure_host(tenant)
    course_id = await create_course(client, site, headers)
    base = f"{site}/teach/courses/{course_id}"
    await post(client, f"{base}/modules", headers, module_title="Practice")
    module = module_ids((await client.get(base, headers=headers)).text)[0]
    report = {f"lesson-title-{module}": "Incident report", f"lesson-type-{module}": "assignment"}
    await post(client, f"{base}/modules/{module}/lessons", headers, **report)
    lesson = lesson_ids((await client.get(base, headers=headers)).text)[0]
    url = f"{base}/lessons/{lesson}/assignment"

    form = await client.get(url, headers=headers)
    assert 'name="rubric"' in form.text
    fields = {"title": "Incident report", "types": ["text", "file"], "pass_pct": "50", "late_penalty_pct": "10"}
    bad = await post(client, url, headers, rubric="Analysis weak 2", **fields)
    assert bad.status_code == 422
    assert "Line 1" in bad.text
    made = await post(
        client, url, headers, rubric="Analysis: Weak = 2; Strong = 6\nWriting: Poor = 0; Clear = 4", **fields
    )
    assert made.status_code == 303, made.text
    shown = await client.get(f"{site}{made.headers['location']}", headers=headers)
    assert "The assignment is set up." in shown.text
    assert "Rubric (10 points)" in shown.text
    assert "Strong" in shown.text
    # The same page changes it later, starting from what it is; nothing is graded yet, so the rubric may change.
    assert "Save the assignment" in shown.text
    assert "Analysis: Weak = 2; Strong = 6" in shown.text
    changed = await post(client, url, headers, rubric="Analysis: Weak = 1; Strong = 5", **{**fields, "pass_pct": "70"})
    assert changed.status_code == 303
    assert "notice=assignment-saved" in changed.headers["location"]
    after = await client.get(url, headers=headers)
    assert "Rubric (5 points)" in after.text
    assert "70" in after.text

    colleague = await headers_of(login, await make_user(tenant, roles=["instructor"]))
    assert (await client.get(url, headers=colleague)).status_code == 403
