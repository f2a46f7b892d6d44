"""What every page request shares: one database transaction, a header that knows the visitor on
every error page, and services' messages with values in the page's language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from lms.db.binding import TENANT_KEY, tenant_session
from lms.db.engines import Database
from lms.learning.models import EnrollmentStatus
from lms.lib.errors import Conflict
from lms.web import i18n
from lms.web.forms import service_message
from lms.web.layout import provide_page_session
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.helpers import build_quiz, enrolled_learner
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import make_member, secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


@contextmanager
def transactions_of(tenant_id: UUID) -> Iterator[list[str]]:
    """Every transaction a session bound to `tenant_id` begins while the block runs."""
    begun: list[str] = []

    def count(session: Session, transaction: Any, connection: Any) -> None:
        if session.info.get(TENANT_KEY) == tenant_id and not transaction.nested:
            begun.append("BEGIN")

    event.listen(Session, "after_begin", count)
    try:
        yield begun
    finally:
        event.remove(Session, "after_begin", count)


@pytest.fixture
def site_state_cached(app: Litestar) -> Iterator[None]:
    """As served: a site's licence is cached for a few seconds (the test run's default is no cache)."""
    original = app.state.settings
    app.state.settings = replace(original, tenant_cache_seconds=60.0)
    try:
        yield
    finally:
        app.state.settings = original


async def test_a_page_request_is_one_transaction_with_the_viewer_read_in_it(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, site_state_cached: None
) -> None:
    tenant = await make_tenant(name="Transaction Corp")
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, title="Data privacy essentials")
    learner = await make_member(make_user, tenant, display_name="Tia Learner")
    headers = browser_headers(await bearer(login, learner))
    await client.post(f"{secure_host(tenant)}/courses/{course.id}/enrol", data={"csrf_token": CSRF}, headers=headers)
    site = secure_host(tenant)
    lesson_id = next(iter(course.lessons.values()))
    pages = ["/", "/courses", "/courses?q=privacy", f"/courses/{course.id}", "/certificates", "/account"]
    pages.append(f"/courses/{course.id}/lessons/{lesson_id}")
    for path in pages:
        with transactions_of(tenant.id) as begun:
            response = await client.get(f"{site}{path}", headers=headers)
        assert response.status_code == 200, (path, response.text[:300])
        assert "Tia Learner" in response.text, path  # the viewer was read ...
        assert begun == ["BEGIN"], path  # ... in the page's one transaction


def test_every_page_controller_reads_the_viewer_in_the_pages_session(app: Litestar) -> None:
    """A controller that reads the viewer (`before_page`) but not through the page session would
    open a second transaction per request: every one is in the pages router."""
    pages = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.resolve_before_request() is not None
        and getattr(handler.resolve_before_request(), "__name__", "") == "before_page"
    ]
    assert len(pages) > 20
    for handler in pages:
        provider = handler.resolve_dependencies().get("db_session")
        assert provider is not None, handler.handler_name
        assert provider.dependency is provide_page_session, handler.handler_name


async def test_error_pages_show_the_signed_in_header_in_the_viewers_language(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(name="Header AG")
    learner = await make_member(make_user, tenant, display_name="Greta Lernende", locale="de")
    token = await bearer(login, learner)
    site = secure_host(tenant)
    for path, status in [("/no-such-page", 404), ("/courses/not-a-course/at-all", 404), ("/admin-only", 404)]:
        page = await client.get(f"{site}{path}", headers=browser_headers(token))
        assert page.status_code == status
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="de"' in page.text, path
        assert "Seite nicht gefunden" in page.text
        assert "Greta Lernende" in page.text, path
        assert "Abmelden" in page.text  # sign out, not "sign in"
        assert 'href="/sign-in"' not in page.text
    # A visitor still gets the signed-out header on the same page.
    visitor = await client.get(f"{site}/no-such-page", headers=browser_headers())
    assert visitor.status_code == 404
    assert "Greta Lernende" not in visitor.text
    assert 'href="/sign-in"' in visitor.text
    # A guard's 403 (before the page read anyone) shows who is signed in too.
    staff_only = await client.get(f"{site}/design-system", headers=browser_headers(token))
    assert staff_only.status_code == 403
    assert "Greta Lernende" in staff_only.text
    assert '<html lang="de"' in staff_only.text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "All 3 attempts have been used."),
        ("de", "Alle 3 Versuche sind aufgebraucht."),
        ("fr", "Les 3 tentatives ont toutes été utilisées."),
    ],
)
def test_service_messages_with_values_are_translated_then_filled_in(locale: str, expected: str) -> None:
    error = Conflict("all %(count)s attempts have been used", field="quiz_id", values={"count": 3})
    assert error.message == "all 3 attempts have been used"  # API clients keep the English text
    with i18n.using_locale(locale):
        assert service_message(error) == expected
    big = Conflict("the next attempt opens in %(seconds)s s (cooldown)", values={"seconds": 3600})
    with i18n.using_locale(locale):
        assert {"en": "3,600", "de": "3.600", "fr": "3\u202f600"}[locale] in service_message(big)


@pytest.mark.parametrize(
    ("locale", "limit", "cooldown"),
    [
        ("de", "Alle 1 Versuche sind aufgebraucht.", "Der nächste Versuch ist in"),
        ("fr", "Les 1 tentatives ont toutes été utilisées.", "La prochaine tentative s\u2019ouvre dans"),
    ],
)
async def test_quiz_refusals_show_in_the_page_language_with_their_values(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, locale: str, limit: str, cooldown: str
) -> None:
    tenant = await make_tenant()
    site = secure_host(tenant)
    for rules, expected in [({"max_attempts": 1}, limit), ({"max_attempts": 3, "cooldown_seconds": 3600}, cooldown)]:
        setup = await build_quiz(client, make_user, login, tenant, **rules)
        user, _ = await enrolled_learner(client, make_user, login, tenant, setup)
        headers = browser_headers(await bearer(login, user), **{"Accept-Language": locale})
        quiz_url = f"{site}/courses/{setup.course.id}/lessons/{setup.lesson_id}/quiz"
        start = await client.post(
            f"{quiz_url}/attempts", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
        )
        assert start.status_code == 303, start.text
        submitted = await client.post(
            f"{site}{start.headers['location']}/submit",
            data={"csrf_token": CSRF},
            headers=headers,
            follow_redirects=False,
        )
        assert submitted.status_code == 303, submitted.text
        again = await client.post(f"{quiz_url}/attempts", data={"csrf_token": CSRF}, headers=headers)
        assert again.status_code == 409
        assert f'<html lang="{locale}"' in again.text
        assert expected in again.text, again.text
        assert "attempts have been used" not in again.text
        assert "cooldown)" not in again.text
        assert "Skip to main content" not in again.text  # the whole page, not only the message


async def test_a_locked_lesson_page_names_what_is_missing_in_the_page_language(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, publish=False, lessons=[{"title": "Check", "type": "quiz"}])
    module = await client.post(
        f"{course.base}/api/v1/courses/{course.id}/modules",
        json={"title": "Advanced", "prerequisites": [{"kind": "quiz_passed", "lesson_id": course.lessons["Check"]}]},
        headers=author,
    )
    advanced = await client.post(
        f"{course.base}/api/v1/courses/{course.id}/modules/{module.json()['id']}/lessons",
        json={"title": "Deep dive", "type": "text", "content": {"body": "secret"}},
        headers=author,
    )
    await client.post(f"{course.base}/api/v1/courses/{course.id}/publish", json={}, headers=author)
    learner = await make_member(make_user, tenant)
    token = await bearer(login, learner)
    await client.post(
        f"{course.base}/api/v1/enrollments", json={"course_id": course.id}, headers={"Authorization": f"Bearer {token}"}
    )
    url = f"{secure_host(tenant)}/courses/{course.id}/lessons/{advanced.json()['id']}"
    expected = {
        "en": "Pass the quiz &#39;Check&#39; first.",
        "de": "Bestehen Sie zuerst das Quiz „Check“.",
        "fr": "Réussissez d\u2019abord le quiz « Check ».",
    }
    for locale, text in expected.items():
        page = await client.get(url, headers=browser_headers(token, **{"Accept-Language": locale}))
        assert page.status_code == 403
        assert text in page.text, (locale, page.text)


async def test_the_player_page_knows_the_viewer_and_speaks_their_language(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, site_state_cached: None
) -> None:
    """The user's own language wins over the browser's here as on every page, and the header is theirs."""
    tenant = await make_tenant()
    learner = await make_member(make_user, tenant, display_name="Fanny Apprenante", locale="fr")
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
    headers = browser_headers(await bearer(login, learner), **{"Accept-Language": "en-GB"})
    await client.get(f"{secure_host(tenant)}/certificates", headers=headers)  # the site's licence, now cached
    with transactions_of(tenant.id) as begun:
        player = await client.get(f"{secure_host(tenant)}/media/{asset.id}/watch?lesson={lesson.id}", headers=headers)
    assert player.status_code == 200
    assert '<html lang="fr"' in player.text
    assert "Fanny Apprenante" in player.text
    assert 'href="/sign-in"' not in player.text
    assert begun == ["BEGIN"]
