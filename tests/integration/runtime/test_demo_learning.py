"""`lms serve --demo` gives the demo tenant a learner who can sign in and take a short course."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from lms.catalog.models import Course
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.identity.signin.services.passwords import verify_password
from lms.runtime.demo_learning import COURSE_SLUG, LEARNER_EMAIL, LEARNER_PASSWORD, ensure_demo_learning
from tests.conftest import Login, MakeTenant
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import bearer, browser_headers


async def test_demo_learner_and_course_are_created_once(
    client: AsyncTestClient[Litestar], db: Database, settings: Settings, make_tenant: MakeTenant, login: Login
) -> None:
    assert await ensure_demo_learning(settings) is None  # no demo tenant yet: nothing to do
    tenant = await make_tenant(slug="demo")
    assert await ensure_demo_learning(settings) == (LEARNER_EMAIL, LEARNER_PASSWORD)
    assert await ensure_demo_learning(settings) == (LEARNER_EMAIL, LEARNER_PASSWORD)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        learners = list(await session.scalars(select(User).where(User.email == LEARNER_EMAIL)))
        courses = await session.scalar(select(func.count()).where(Course.slug == COURSE_SLUG))
    assert len(learners) == 1
    assert courses == 1
    assert await verify_password(learners[0].password_hash, LEARNER_PASSWORD)

    headers = browser_headers(await bearer(login, learners[0]))
    home = await client.get(f"{secure_host(tenant)}/", headers=headers)
    assert "Working safely online" in home.text  # enrolled, so it is on My learning
    course_id = home.text.split('href="/courses/')[1].split('"')[0].split("/")[0]
    course = await client.get(f"{secure_host(tenant)}/courses/{course_id}", headers=headers)
    quiz_lesson = course.text.split("Check your knowledge")[0].rsplit('href="', 1)[1].split('"')[0]
    quiz = await client.get(f"{secure_host(tenant)}{quiz_lesson}/quiz", headers=headers)
    assert quiz.status_code == 200
    assert "Phishing check" in quiz.text
