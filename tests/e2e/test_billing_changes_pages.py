"""Plan changes, seat overage and refunds in Chromium at desktop size (pages audited at 360 px), checked by axe-core:
an admin of an enterprise site reads the pending overage and the course sales, reviews a downgrade
that would switch off single sign-on (and is stopped until they confirm), and opens a refund."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, Page, expect

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeTenant, MakeUser
from tests.e2e.conftest import serving_app, staff_story
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.factories import ROW_FACTORIES
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.identity.helpers import PASSWORD, make_member
from tests.stripe_standin import API_KEY, WEBHOOK_SECRET, StripeStandIn, running_standin

pytestmark = staff_story

Client = AsyncTestClient[Litestar]
# Set BILLING_SHOTS to a folder to keep a screenshot of each page (for a look at the layout).
SHOTS = os.environ.get("BILLING_SHOTS", "")


async def shoot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def stripe_env() -> Iterator[StripeStandIn]:
    """The stand-in, and the app process started with it configured (the harness passes the environment on)."""
    with running_standin() as standin, pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRIPE_API_KEY", API_KEY)
        patch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        patch.setenv("STRIPE_API_BASE", standin.api_base)
        yield standin


@pytest.fixture(scope="module")
def web_server(stripe_env: StripeStandIn, settings: Settings) -> Iterator[int]:
    """An app process of this module's own, started with the stand-in in its environment."""
    with serving_app(settings) as port:
        yield port


async def test_admin_reviews_a_downgrade_reads_the_overage_and_opens_a_refund(
    web_server: int,
    stripe_env: StripeStandIn,
    context: BrowserContext,
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    db: Database,
) -> None:
    tenant = await make_tenant(name="Acme Corp", plan=Plan.ENTERPRISE, seats=2)
    admin = await make_member(make_user, tenant, roles=["tenant_admin"], display_name="Ada Admin")
    learner = await make_member(make_user, tenant, display_name="Lin Learner")
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, price_cents=4900, currency="EUR", title="Negotiation")
    state = stripe_env.state
    with state.lock:
        customer = state.create_customer({"email": admin.email, "metadata": {"tenant_id": str(tenant.id)}})
        checkout = state.create_checkout_session(
            {
                "mode": "subscription",
                "customer": customer["id"],
                "line_items": [
                    {
                        "quantity": "2",
                        "price_data": {"currency": "eur", "unit_amount": "2500", "recurring": {"interval": "month"}},
                    }
                ],
                "subscription_data": {"metadata": {"tenant_id": str(tenant.id), "plan": "enterprise"}},
            }
        )
        subscription = state.complete_checkout(checkout["id"])["subscription"]
    now = clock.now()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await ROW_FACTORIES["billing_accounts"](
            session,
            tenant.id,
            plan_key="enterprise",
            seats=2,
            stripe_customer_id=customer["id"],
            stripe_subscription_id=subscription,
            current_period_start=now - timedelta(days=3),
            current_period_end=now + timedelta(days=27),
        )
        await ROW_FACTORIES["billing_seat_snapshots"](session, tenant.id, day=now.date(), used=5, licensed=2)
        await ROW_FACTORIES["sso_providers"](session, tenant.id)
        await ROW_FACTORIES["billing_course_purchases"](
            session,
            tenant.id,
            user_id=learner.id,
            course_id=course.id,
            amount_cents=4900,
            currency="EUR",
            status="partially_refunded",
            amount_refunded_cents=1000,
            paid_at=now,
            payment_intent_id="pi_demo",
        )
    base = site(tenant, web_server)

    page = await context.new_page()
    await page.goto(f"{base}/sign-in")
    await sign_in(page, admin.email, PASSWORD)
    await page.goto(f"{base}/admin/billing")
    await expect(page.get_by_role("heading", name="Seats over your licence this period")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"Pending overage: €75\.00"))).to_be_visible()
    await expect(page.get_by_role("heading", name="Course sales")).to_be_visible()
    await expect(page.get_by_text("Partly refunded")).to_be_visible()
    await check_page(page)
    width = (page.viewport_size or {"width": 0})["width"]
    size = "phone" if width < 600 else "desktop"
    await shoot(page, f"billing-{size}")

    await page.get_by_role("button", name="Review the downgrade to Team").click()
    await expect(page.get_by_role("heading", name="Check your downgrade to Team", level=1)).to_be_visible()
    await expect(page.get_by_text(re.compile(r"1 single sign-on connection"))).to_be_visible()
    await check_page(page)
    await shoot(page, f"plan-{size}")
    await page.get_by_role("button", name="Downgrade now").click()
    await expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    await expect(page.get_by_role("link", name=re.compile("Tick the box"))).to_be_visible()
    await check_page(page)
    await shoot(page, f"plan-error-{size}")

    await page.goto(f"{base}/admin/billing")
    await page.get_by_role("link", name=re.compile(r"^Refund")).click()
    await expect(page.get_by_role("heading", name="Refund a course sale", level=1)).to_be_visible()
    await expect(page.get_by_text("At most €39.00")).to_be_visible()
    await check_page(page)
    await shoot(page, f"refund-{size}")
    assert stripe_env.state.objects[subscription]["items"]["data"][0]["price"]["unit_amount"] == 2500
