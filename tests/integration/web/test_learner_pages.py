"""A learner finds a course in the catalogue, enrols from its page and sees it in My learning;
another tenant's learner sees none of it."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.config import Settings
from lms.db.engines import Database
from lms.learning.services.fold import fold_pending
from lms.learning.services.ingest import StreamKeys, stream_redis
from tests.conftest import Login, MakeTenant, MakeUser, eventually
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_learner_finds_enrols_and_continues(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, title="Data privacy essentials", summary="Keep data safe")
    await build_course(client, tenant, author, title="Forklift driving", summary="Lift things")
    learner = await make_user(tenant, roles=["learner"])
    headers = browser_headers(await bearer(login, learner))
    site = secure_host(tenant)

    empty_home = await client.get(f"{site}/", headers=headers)
    assert "No courses yet" in empty_home.text
    assert 'href="/courses"' in empty_home.text

    found = await client.get(f"{site}/courses", params={"q": "privacy"}, headers=headers)
    assert found.status_code == 200
    assert "Data privacy essentials" in found.text
    assert "Forklift driving" not in found.text
    assert f'href="/courses/{course.id}"' in found.text
    assert "Your progress" not in found.text  # not enrolled yet

    page = await client.get(f"{site}/courses/{course.id}", headers=headers)
    assert page.status_code == 200
    assert "Intro video" in page.text
    assert "Reading" in page.text
    assert f'action="/courses/{course.id}/enrol"' in page.text
    assert "Instructor: " in page.text  # the course page names who teaches it

    refused = await client.post(f"{site}/courses/{course.id}/enrol", headers=headers, follow_redirects=False)
    assert refused.status_code == 403
    enrolled = await client.post(
        f"{site}/courses/{course.id}/enrol", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert enrolled.status_code == 303
    after = await client.get(f"{site}{enrolled.headers['location']}", headers=headers)
    assert "You are enrolled." in after.text
    assert "<progress" in after.text
    # The catalogue card of the course now shows the learner's progress; the other card does not.
    card = await client.get(f"{site}/courses", params={"q": "privacy"}, headers=headers)
    assert card.text.count("<progress") == 1

    home = await client.get(f"{site}/", headers=headers)
    assert "Continue where you left off" in home.text
    assert "Data privacy essentials" in home.text

    german = await client.get(f"{site}/courses", headers={**headers, "Accept-Language": "de"})
    assert "Katalog" in german.text


async def test_another_tenants_learner_sees_none_of_it(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, title="Secret onboarding")
    outsider = await make_user(other, roles=["learner"])
    headers = browser_headers(await bearer(login, outsider))
    listing = await client.get(f"{secure_host(other)}/courses", params={"q": "onboarding"}, headers=headers)
    assert "Secret onboarding" not in listing.text
    page = await client.get(f"{secure_host(other)}/courses/{course.id}", headers=headers)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    enrol = await client.post(
        f"{secure_host(other)}/courses/{course.id}/enrol", data={"csrf_token": CSRF}, headers=headers
    )
    assert enrol.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"q": "", "difficulty": "", "price": "", "sort": "relevance"},
        {"difficulty": "expert", "price": "cheap", "sort": "random"},
        {"q": "privacy", "difficulty": "beginner", "price": "free", "sort": "newest", "offset": "0"},
    ],
)
async def test_the_filter_form_as_browsers_send_it_never_fails(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, params: dict[str, str]
) -> None:
    """Browsers send every field of the filter form, empty ones included; unknown values mean "any"."""
    tenant = await make_tenant()
    learner = await make_user(tenant, roles=["learner"])
    response = await client.get(
        f"{secure_host(tenant)}/courses", params=params, headers=browser_headers(await bearer(login, learner))
    )
    assert response.status_code == 200
    assert "No courses found" in response.text


async def test_learner_reads_a_text_lesson_marks_it_complete_and_the_course_progresses(
    client: Client, db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    text = {"title": "Reading", "type": "text", "content": {"body": "First idea.\n\nSecond idea."}}
    course = await build_course(client, tenant, author, lessons=[text, {"title": "Quiz later", "type": "text"}])
    learner = await make_user(tenant, roles=["learner"])
    headers = browser_headers(await bearer(login, learner))
    site = secure_host(tenant)
    lesson_url = f"{site}/courses/{course.id}/lessons/{course.lessons['Reading']}"
    not_enrolled = await client.get(lesson_url, headers=headers)
    assert not_enrolled.status_code in (403, 404)
    assert not_enrolled.headers["content-type"].startswith("text/html")

    await client.post(f"{site}/courses/{course.id}/enrol", data={"csrf_token": CSRF}, headers=headers)
    lesson = await client.get(lesson_url, headers=headers)
    assert lesson.status_code == 200
    assert "<p>First idea.</p>" in lesson.text
    assert "<p>Second idea.</p>" in lesson.text
    assert f'/lessons/{course.lessons["Quiz later"]}"' in lesson.text  # the next lesson

    done = await client.post(
        f"{lesson_url}/complete", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert done.status_code == 303
    after = await client.get(f"{site}{done.headers['location']}", headers=headers)
    assert "Lesson marked as complete." in after.text

    redis = stream_redis(settings.redis_url or "")
    keys = StreamKeys.for_queue(settings.celery_queue)

    async def progressed() -> bool:
        await fold_pending(db, redis, keys)
        page = (await client.get(f"{site}/api/v1/me/learning/courses", headers=await login(learner))).json()
        return bool(page["items"] and page["items"][0]["completion_pct"] > 0)

    try:
        await eventually(progressed, timeout=20)
    finally:
        await redis.aclose()


async def test_changing_a_filter_with_htmx_swaps_only_the_results(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    await build_course(client, tenant, author, title="Data privacy essentials")
    learner = await make_user(tenant, roles=["learner"])
    headers = browser_headers(await bearer(login, learner))
    whole = await client.get(f"{secure_host(tenant)}/courses", params={"q": "privacy"}, headers=headers)
    assert "<html" in whole.text
    assert 'hx-target="#results"' in whole.text
    partial = await client.get(
        f"{secure_host(tenant)}/courses", params={"q": "privacy"}, headers={**headers, "HX-Request": "true"}
    )
    assert "<html" not in partial.text
    assert "Data privacy essentials" in partial.text
