"""The assignment lesson in the browser: instructions and rubric, a multipart submission with field
errors from the service, the grade with rubric scores and feedback, and peer reviews with their form."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.assignments.test_assignments import ALL_TOP, build_assignment, student_of
from tests.integration.catalog.helpers import BuiltCourse
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


def page_url(course: BuiltCourse) -> str:
    return f"/courses/{course.id}/lessons/{course.lessons['Report']}/assignment"


async def browser_student(
    client: Client, make_user: MakeUser, login: Login, tenant: object, course: BuiltCourse
) -> dict[str, str]:
    user, _ = await student_of(client, make_user, login, tenant, course)  # type: ignore[arg-type]
    return browser_headers(await bearer(login, user))


async def test_learner_submits_sees_versions_and_then_the_grade(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(
        client, make_user, login, tenant, instructions="Write up the phishing attempt.", pass_pct=50
    )
    headers = await browser_student(client, make_user, login, tenant, course)
    site = secure_host(tenant)
    url = f"{site}{page_url(course)}"

    lesson = await client.get(f"{site}/courses/{course.id}/lessons/{course.lessons['Report']}", headers=headers)
    assert page_url(course) in lesson.text

    before = await client.get(url, headers=headers)
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/html")
    assert "Write up the phishing attempt." in before.text
    assert "Analysis" in before.text  # the rubric up front
    assert "Strong" in before.text
    assert 'enctype="multipart/form-data"' in before.text

    sent = await client.post(
        f"{url}/submissions",
        data={"csrf_token": CSRF, "text": "My findings", "url": "https://example.org/report"},
        files=[("files", ("report.pdf", b"%PDF-1.4 report", "application/pdf"))],
        headers=headers,
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    after = await client.get(f"{site}{sent.headers['location']}", headers=headers)
    assert "Your work is submitted." in after.text
    assert "My findings" in after.text
    assert "report.pdf" in after.text
    assert "Version 1" in after.text

    listing = await client.get(f"{course.base}/api/v1/assignments/{assignment_id}/submissions", headers=author)
    sub_url = f"{course.base}/api/v1/assignment-submissions/{listing.json()['items'][0]['id']}"
    await client.post(f"{sub_url}/review", headers=author)
    graded = await client.post(f"{sub_url}/grade", json={"scores": ALL_TOP, "feedback": "Well argued."}, headers=author)
    assert graded.status_code == 200, graded.text
    result = await client.get(url, headers=headers)
    assert "Well argued." in result.text
    assert "Rubric scores" in result.text
    assert "Sharp" in result.text  # the criterion's comment
    assert "Passed" in result.text


@pytest.mark.parametrize(
    ("data", "files", "field", "message"),
    [
        ({}, None, "text", "needs text, a URL or at least one file"),
        ({"url": "ftp://example.org/x"}, None, "url", "http(s) address"),
        ({"text": "x"}, [("files", ("tool.exe", b"MZ...", "application/octet-stream"))], "files", "not allowed"),
        ({"text": "a\x00b"}, None, "text", "not allowed"),
    ],
)
async def test_bad_submissions_are_named_by_field_and_nothing_is_kept(
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    data: dict[str, str],
    files: list[tuple[str, tuple[str, bytes, str]]] | None,
    field: str,
    message: str,
) -> None:
    tenant = await make_tenant()
    course, _, _ = await build_assignment(
        client, make_user, login, tenant, submission_types=["text", "url", "file"], allowed_extensions=["pdf"]
    )
    headers = await browser_student(client, make_user, login, tenant, course)
    url = f"{secure_host(tenant)}{page_url(course)}"
    response = await client.post(
        f"{url}/submissions",
        data={"csrf_token": CSRF, **data},
        files=files or [("files", ("", b"", "application/octet-stream"))],
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text
    assert f'href="#{field}"' in response.text
    assert message in response.text
    assert "Your submission" not in (await client.get(url, headers=headers)).text


async def test_learner_does_an_assigned_peer_review(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    course, assignment_id, author = await build_assignment(
        client, make_user, login, tenant, peer_review={"reviewers": 3, "review_hours": 48}
    )
    site = secure_host(tenant)
    url = f"{site}{page_url(course)}"
    learners = [await browser_student(client, make_user, login, tenant, course) for _ in range(4)]
    for index, headers in enumerate(learners):
        sent = await client.post(
            f"{url}/submissions",
            data={"csrf_token": CSRF, "text": f"Essay number {index}"},
            headers=headers,
            follow_redirects=False,
        )
        assert sent.status_code == 303
    assigned = await client.post(
        f"{course.base}/api/v1/assignments/{assignment_id}/peer-reviews/assign", headers=author
    )
    assert assigned.status_code == 200, assigned.text

    mine = await client.get(url, headers=learners[0])
    assert "Reviews for you to do" in mine.text
    review_path = mine.text.split(f'href="{page_url(course)}/reviews/')[1].split('"')[0]
    review_url = f"{url}/reviews/{review_path}"
    review = await client.get(review_url, headers=learners[0])
    assert review.status_code == 200
    assert "Essay number" in review.text
    assert "Essay number 0" not in review.text  # never one's own work

    missing = await client.post(
        review_url, data={"csrf_token": CSRF, "level-analysis": "strong"}, headers=learners[0], follow_redirects=False
    )
    assert missing.status_code == 422
    assert 'href="#level-writing"' in missing.text
    done = await client.post(
        review_url,
        data={"csrf_token": CSRF, "level-analysis": "strong", "level-writing": "clear", "comment": "Clear."},
        headers=learners[0],
        follow_redirects=False,
    )
    assert done.status_code == 303
    again = await client.get(review_url, headers=learners[0])
    assert "Submit the review" not in again.text
    # another learner cannot open this review
    assert (await client.get(review_url, headers=learners[1])).status_code == 404


async def test_strangers_and_other_tenants_cannot_open_the_assignment(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    course, _, _ = await build_assignment(client, make_user, login, tenant)
    stranger = browser_headers(await bearer(login, await make_user(tenant, roles=["learner"])))
    outsider = browser_headers(await bearer(login, await make_user(other, roles=["learner"])))
    for site, headers, status in ((secure_host(tenant), stranger, 403), (secure_host(other), outsider, 404)):
        response = await client.get(f"{site}{page_url(course)}", headers=headers)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("text/html")
        sent = await client.post(
            f"{site}{page_url(course)}/submissions",
            data={"csrf_token": CSRF, "text": "sneaky"},
            headers=headers,
            follow_redirects=False,
        )
        assert sent.status_code == status
