"""An operator uses the console in Chromium, with axe-core on every page: signs in with the operator
token and sets up the second factor, suspends a tenant (whose learners then see the suspended page),
comps seats from a tenant's billing panel, and retries a poisoned progress event from the dead-letter
view once its cause is fixed."""

from __future__ import annotations

import asyncio
import re
import uuid

import pyotp
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import text

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.services.fold import fold_pending
from lms.learning.services.ingest import StreamKeys, stream_redis
from lms.tenancy.services.operators import create_operator
from tests.conftest import Login, MakeTenant, MakeUser
from tests.e2e.conftest import staff_story
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.integration.identity.helpers import PASSWORD, make_member
from tests.integration.learning.test_progress import Client, enrolled_learner, heartbeat

pytestmark = staff_story


async def new_operator(db: Database) -> tuple[str, str]:
    email = f"op-{uuid.uuid4().hex[:8]}@platform.test"
    async with db.operator_sessions() as session, session.begin():
        _, token = await create_operator(session, email, "Night shift")
    return email, token


async def operator_signs_in(page: Page, port: int, email: str, token: str) -> None:
    """Token first, then enrolment of the authenticator (first sign-in) with a code from it."""
    await page.goto(f"http://localhost:{port}/operator")
    await expect(page).to_have_url(re.compile(r"/operator/sign-in\?next=/operator$"))
    await check_page(page)
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Operator token").fill(token)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Operator sign-in")).to_be_visible()
    secret = (await page.locator("code.secret").inner_text()).strip()
    await check_page(page)
    await page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Turn on and sign in").click()
    await expect(page.get_by_role("heading", name="Tenants", exact=True)).to_be_visible()


async def test_operator_suspends_a_tenant_and_its_learners_see_the_suspended_page(
    web_server: int, context: BrowserContext, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name=f"Globex {uuid.uuid4().hex[:4]}")
    learner = await make_member(make_user, tenant, display_name="Lee Learner")
    email, token = await new_operator(db)
    page = await context.new_page()

    await operator_signs_in(page, web_server, email, token)
    await check_page(page)
    # The list pages through every tenant of the run's database; the tenant's own page is one click
    # from its row, opened here by its address so that the story does not depend on the list's length.
    await page.goto(f"http://localhost:{web_server}/operator/tenants/{tenant.id}")
    await expect(page.get_by_role("heading", name=tenant.name)).to_be_visible()
    await check_page(page)

    # Without the confirmation nothing happens and the form says why.
    await page.get_by_text("Suspend the site").click()
    suspend = page.locator("details", has_text="Suspend the site")
    await suspend.get_by_label("Reason").fill("Invoice unpaid for 60 days")
    await page.get_by_role("button", name=f"Suspend {tenant.name}").click()
    await expect(page.get_by_role("alert")).to_contain_text("Tick the box to confirm")
    await check_page(page)
    await suspend.get_by_label("Reason").fill("Invoice unpaid for 60 days")
    await suspend.get_by_label("I understand").check()
    await page.get_by_role("button", name=f"Suspend {tenant.name}").click()
    await expect(page.get_by_role("status")).to_contain_text("The site is suspended")
    await expect(page.get_by_text("Invoice unpaid for 60 days").first).to_be_visible()
    await expect(page.locator("td code", has_text="tenant.suspend")).to_be_visible()  # the audit trail

    learner_page = await context.new_page()
    await learner_page.goto(f"{site(tenant, web_server)}/sign-in")
    await expect(learner_page.get_by_role("heading", name="This site is suspended")).to_be_visible()
    await check_page(learner_page)

    # Resumed, the learner signs in as before.
    await page.get_by_role("button", name="Resume the site").click()
    await expect(page.get_by_role("status")).to_contain_text("The site is open again")
    await learner_page.goto(f"{site(tenant, web_server)}/sign-in")
    await sign_in(learner_page, learner.email, PASSWORD)
    await expect(learner_page.get_by_role("heading", name="My learning")).to_be_visible()


async def test_operator_reads_a_tenants_billing_and_usage_and_comps_seats(
    web_server: int, context: BrowserContext, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(name=f"Initech {uuid.uuid4().hex[:4]}")
    email, token = await new_operator(db)
    page = await context.new_page()
    await operator_signs_in(page, web_server, email, token)
    await page.goto(f"http://localhost:{web_server}/operator/tenants/{tenant.id}")
    billing = page.locator("section", has=page.get_by_role("heading", name="Billing"))
    await expect(billing).to_contain_text("Seats purchased")
    await expect(page.get_by_role("heading", name="Usage over the last 90 days")).to_be_visible()
    await check_page(page)

    # A reason is required; the error names the field and the form stays open.
    await page.locator("summary", has_text="Comp seats").click()
    await page.get_by_label("Comp seats").fill("5")
    await page.get_by_role("button", name="Save comp seats").click()
    await expect(page.get_by_role("alert")).to_contain_text("Say why")
    await check_page(page)
    await page.locator("#comp_reason").fill("Pilot for the sales team")
    await page.get_by_role("button", name="Save comp seats").click()
    await expect(page.get_by_role("status")).to_contain_text("Comp seats saved")
    await expect(billing.locator(".facts div", has_text="Comp seats")).to_contain_text("5")
    await expect(page.locator("td", has_text="Pilot for the sales team")).to_be_visible()  # the audit trail
    await check_page(page)


async def fold_everything(db: Database, settings: Settings) -> None:
    redis = stream_redis(settings.redis_url or "")
    keys = StreamKeys.for_queue(settings.celery_queue)
    try:
        for _ in range(300):
            await fold_pending(db, redis, keys)
            if await redis.xlen(keys.stream) == 0 and not await redis.exists(keys.lock):
                return
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    raise AssertionError("the progress stream was not drained")


async def test_a_poisoned_event_shows_as_a_dead_letter_and_is_retried_after_the_fix(
    web_server: int,
    context: BrowserContext,
    db: Database,
    settings: Settings,
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant, course, _, _ = await enrolled_learner(client, make_tenant, make_user, login)
    # An event of a learner whose account is not there (yet): the database refuses it.
    missing_user = uuid.uuid4()
    event = heartbeat(course, 12, [[0, 12]], 12)
    redis = stream_redis(settings.redis_url or "")
    keys = StreamKeys.for_queue(settings.celery_queue)
    await redis.xadd(keys.stream, {"tenant": str(tenant.id), "user": str(missing_user), "events": f"[{_json(event)}]"})
    await redis.aclose()
    await fold_everything(db, settings)

    email, token = await new_operator(db)
    page = await context.new_page()
    await operator_signs_in(page, web_server, email, token)
    await page.get_by_role("link", name="Platform health").first.click()
    row = page.locator("tr", has_text=event["client_event_id"])
    await expect(row).to_contain_text("ForeignKeyViolation")
    await check_page(page)

    # The fix: the learner's account is restored. Then the operator retries the event.
    await make_user(tenant, id=missing_user, email=f"restored-{missing_user.hex[:6]}@example.com")
    await row.get_by_role("button", name=re.compile("^Retry")).click()
    await expect(page.get_by_role("status")).to_contain_text("sent to the fold again")
    await fold_everything(db, settings)
    await page.reload()
    await expect(page.locator("tr", has_text=event["client_event_id"])).to_have_count(0)
    await check_page(page)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = await session.execute(
            text("select count(*) from progress_events where user_id = :u and client_event_id = :e"),
            {"u": missing_user, "e": event["client_event_id"]},
        )
        assert stored.scalar_one() == 1


def _json(value: object) -> str:
    import json

    return json.dumps(value, default=str)
