"""In Chromium at desktop and phone size, with axe-core on every page: a learner asks a question in a
course's discussions, sees the answer and the inbox, changes notification settings; the instructor
answers and sees the moderation queue; an e-mail's unsubscribe page works without signing in."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.mail import EmailMessage
from lms.notifications import services as notifications
from tests.conftest import Login, MakeTenant, MakeUser
from tests.e2e.test_web_stories import check_page, sign_in, sign_out, site
from tests.integration.catalog.helpers import build_course
from tests.integration.identity.helpers import PASSWORD, make_member

Client = AsyncTestClient[Litestar]


async def test_a_question_is_asked_answered_and_notified_in_the_browser(
    web_server: int,
    context: BrowserContext,
    client: Client,
    db: Database,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    teacher = await make_member(make_user, tenant, roles=["instructor"], display_name="Ines Instructor")
    learner = await make_member(make_user, tenant, display_name="Ada Learner")
    course = await build_course(client, tenant, await login(teacher), title="Phishing awareness")
    base = site(tenant, web_server)
    page = await context.new_page()

    await page.goto(f"{base}/sign-in?next=/courses/{course.id}")
    await sign_in(page, learner.email, PASSWORD)
    await page.get_by_role("button", name="Enrol").click()
    await page.get_by_role("link", name="Questions and discussions").click()
    await expect(page.get_by_role("heading", name="Discussions")).to_be_visible()
    await check_page(page)
    await page.get_by_label("Title").fill("Which link is safe?")
    await page.get_by_label("Your question").fill("How do I **check** a link before I click it?")
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(page.get_by_role("heading", name="Which link is safe?")).to_be_visible()
    await expect(page.locator(".post-body strong")).to_have_text("check")
    await check_page(page)
    await sign_out(page)

    await page.goto(f"{base}/sign-in?next=/courses/{course.id}/discussions")
    await sign_in(page, teacher.email, PASSWORD)
    await page.get_by_role("link", name="Which link is safe?").click()
    await page.get_by_label("Reply", exact=True).fill("Hover over it and read the address.")
    await page.get_by_role("button", name="Post reply").click()
    await page.get_by_role("button", name="Mark as answer").click()
    await expect(page.get_by_text("Marked as the answer.")).to_be_visible()
    await check_page(page)
    await page.goto(f"{base}/courses/{course.id}/discussions/moderation")
    await expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()
    await check_page(page)
    await sign_out(page)

    await page.goto(f"{base}/sign-in?next=/notifications")
    await sign_in(page, learner.email, PASSWORD)
    # The enrolment, the reply and the answer.
    await expect(page.locator(".notification-badge .count").first).to_have_text("3")
    await expect(page.get_by_text("Your question was answered: Which link is safe?")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name=re.compile("Your question was answered")).click()
    await expect(page.get_by_role("heading", name="Which link is safe?")).to_be_visible()
    await page.goto(f"{base}/notifications/preferences")
    await page.get_by_label("Grades by e-mail").select_option("digest")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_text("Your notification settings are saved.")).to_be_visible()
    await check_page(page)
    await page.goto(f"{base}/")
    await expect(page.get_by_text("No streak yet: learn today to start one.")).to_be_visible()
    await check_page(page)

    async with tenant_session(db.app_sessions, tenant.id) as session:
        await notifications.notify(session, tenant.id, learner.id, "returned", {"title": "Quiz"})
        mail = list(await session.scalars(select(EmailMessage).where(EmailMessage.recipient == learner.email)))
    header = next(m for m in mail if m.headers).headers["List-Unsubscribe"]
    query = re.search(r"/unsubscribe\?([^>]+)>", header)
    assert query is not None
    await context.clear_cookies()
    anonymous = await context.new_page()
    await anonymous.goto(f"{base}/unsubscribe?{query.group(1)}")
    await check_page(anonymous)
    await anonymous.get_by_role("button", name="Unsubscribe").click()
    await expect(anonymous.get_by_text("Done: you will no longer get e-mails about Returned work.")).to_be_visible()
    await check_page(anonymous)
