"""File lessons (a download and "Mark as complete") and video lessons (the player, with its
controls labelled in the learner's language and a way back to the lesson)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import EnrollmentStatus
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize(
    ("content", "link"),
    [
        (
            {"url": "https://files.example.org/policy.pdf", "body": "Read the policy."},
            "https://files.example.org/policy.pdf",
        ),
        ({"url": "/static/a/policy.pdf", "filename": "Policy (PDF)"}, "/static/a/policy.pdf"),
        ({"url": "javascript:alert(1)"}, None),
        ({"url": "//evil.example/x.pdf"}, None),
        ({}, None),
    ],
)
async def test_file_lesson_offers_its_download_and_completes(
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    content: dict[str, str],
    link: str | None,
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(
        client, tenant, author, lessons=[{"title": "Policy", "type": "file", "content": content}]
    )
    learner = await make_user(tenant, roles=["learner"])
    headers = browser_headers(await bearer(login, learner))
    site = secure_host(tenant)
    url = f"{site}/courses/{course.id}/lessons/{course.lessons['Policy']}"
    await client.post(f"{site}/courses/{course.id}/enrol", data={"csrf_token": CSRF}, headers=headers)

    page = await client.get(url, headers=headers)
    assert page.status_code == 200
    if link is None:
        assert "The file of this lesson is not available yet." in page.text
        assert "javascript:" not in page.text
    else:
        assert f'href="{link}" download' in page.text
    done = await client.post(f"{url}/complete", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False)
    assert done.status_code == 303


async def test_video_lesson_opens_the_player_in_the_learners_language(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant, roles=["learner"])
    async with tenant_session(db.app_sessions, tenant.id) as session:
        asset = await factories.media.make_asset(session, tenant.id)
        course = await factories.catalog.make_course(session, tenant.id)
        module = await factories.catalog.make_module(session, tenant.id, course=course)
        lesson = await factories.catalog.make_lesson(session, tenant.id, module=module, media_asset_id=asset.id)
        await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=learner.id,
            course_id=course.id,
            course_owner=course.catalogue_owner,
            status=EnrollmentStatus.ACTIVE,
        )
    headers = {**browser_headers(await bearer(login, learner)), "Accept-Language": "de"}
    site = secure_host(tenant)
    player_url = f"/media/{asset.id}/watch?lesson={lesson.id}"

    player = await client.get(f"{site}{player_url}", headers=headers)
    assert player.status_code == 200
    for label in ("Untertitel", "Qualität", 'aria-label="Spulen"', "Tastatur:", "Zurück zur Lektion"):
        assert label in player.text
    assert f'href="/courses/{course.id}/lessons/{lesson.id}"' in player.text
    assert 'id="captions"' in player.text  # a native select: reachable with Tab, changed with the arrows

    stranger = browser_headers(await bearer(login, await make_user(tenant, roles=["learner"])))
    assert (await client.get(f"{site}{player_url}", headers=stranger)).status_code == 403


async def test_an_author_writes_chapters_that_learners_see_beside_the_video(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    author = await make_user(tenant, roles=["instructor"])
    learner = await make_user(tenant, roles=["learner"])
    async with tenant_session(db.app_sessions, tenant.id) as session:
        asset = await factories.media.make_asset(session, tenant.id)
        course = await factories.catalog.make_course(session, tenant.id, instructor_ids=[author.id])
        module = await factories.catalog.make_module(session, tenant.id, course=course)
        lesson = await factories.catalog.make_lesson(session, tenant.id, module=module, media_asset_id=asset.id)
        await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=learner.id,
            course_id=course.id,
            course_owner=course.catalogue_owner,
            status=EnrollmentStatus.ACTIVE,
        )
    site = secure_host(tenant)
    editor = f"{site}/teach/courses/{course.id}/lessons/{lesson.id}"
    author_headers = browser_headers(await bearer(login, author))
    form = {"csrf_token": CSRF, "title": "Evacuation", "minutes": "2"}

    backwards = await client.post(editor, data={**form, "chapters": "1:00 Exits\n0:30 Alarms"}, headers=author_headers)
    assert backwards.status_code == 422
    assert "Line 2: each chapter starts after the one before." in backwards.text
    saved = await client.post(
        editor,
        data={**form, "chapters": "0:00 Alarms\n1:05 Exits & stairs"},
        headers=author_headers,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "1:05 Exits &amp; stairs" in (await client.get(editor, headers=author_headers)).text

    player = await client.get(
        f"{site}/media/{asset.id}/watch?lesson={lesson.id}", headers=browser_headers(await bearer(login, learner))
    )
    assert player.status_code == 200
    assert 'class="transcript-line chapter-line" data-start="65"' in player.text
    assert "Exits &amp; stairs" in player.text
