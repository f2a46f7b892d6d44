"""A dynamic group picks up new hires and their assigned course; a manager sees an overdue report.

In Chromium, at desktop size (pages audited at 360 px), with axe-core on every page: an administrator makes a group
whose rule is department = Sales and assigns a course to it with a due date, then gives the HR
system a SCIM token. The HR system provisions new hires (department and manager included); the real
worker enrols the Sales hires within seconds, without the 15-minute job. The due date passes, and
their manager's team training page reports them overdue.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import httpx
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import update

from lms.catalog.schemas import CourseStatus
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import Enrollment
from lms.lib import clock
from lms.tenancy.models import Tenant
from tests import factories
from tests.conftest import MakeTenant, MakeUser
from tests.e2e.conftest import staff_story
from tests.e2e.test_web_stories import check_page, sign_in, sign_out, site
from tests.integration.identity.helpers import PASSWORD, make_member
from tests.support import patience

pytestmark = staff_story

# Set to a folder to keep a screenshot of each page of the story (for looking at them).
SHOTS = os.environ.get("LMS_SCREENSHOTS", "")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


async def visit(page: Page, url: str) -> None:
    """Open a page: 200, HTML."""
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200, f"{url}: {response.status}"
    assert (await response.header_value("content-type") or "").startswith("text/html")


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        width = (page.viewport_size or {"width": 0})["width"]
        await page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


def hire(email: str, name: str, department: str, manager_id: UUID) -> bytes:
    given, family = name.split(" ", 1)
    return json.dumps(
        {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": email,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"value": email, "primary": True, "type": "work"}],
            "active": True,
            ENTERPRISE_SCHEMA: {"department": department, "manager": {"value": str(manager_id)}},
        }
    ).encode()


async def published_course(db: Database, tenant: Tenant, title: str) -> None:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.catalog.make_course(session, tenant.id, title=title, status=CourseStatus.PUBLISHED)


async def test_a_dynamic_group_enrols_new_hires_and_their_manager_sees_them_overdue(
    web_server: int, worker: Any, context: BrowserContext, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    admin = await make_member(make_user, tenant, roles=["tenant_admin", "learner"], display_name="Ada Admin")
    manager = await make_member(make_user, tenant, display_name="Max Manager", email="max@acme.example")
    await published_course(db, tenant, "Customer data protection")
    base = site(tenant, web_server)
    page = await context.new_page()

    # The administrator makes the dynamic group and assigns the course to it, due in a week.
    await visit(page, f"{base}/admin/groups")
    await sign_in(page, admin.email, PASSWORD)
    await page.wait_for_url(f"{base}/admin/groups")
    await check_page(page)
    await page.get_by_label("Name", exact=True).fill("Sales")
    await page.get_by_label("Attribute").fill("department")
    await page.get_by_label("Value").fill("Sales")
    await page.get_by_role("button", name="Add the group").click()
    await expect(page.get_by_role("status")).to_contain_text("The group is added.")
    await check_page(page)

    due = (clock.now() + timedelta(days=7)).date()
    await visit(page, f"{base}/admin/training")
    await check_page(page)
    await page.get_by_label("Course or program").select_option(label="Customer data protection")
    await page.get_by_label("A group (its subgroups too; new members are enrolled automatically)").check()
    await page.get_by_label("Group", exact=True).select_option(label="Sales")
    await page.get_by_label("On a date").check()
    await page.get_by_label("Due date").fill(due.isoformat())
    await page.get_by_role("button", name="Assign the course").click()
    await expect(page.get_by_text("The course is assigned.")).to_have_count(1)
    assigned = page.get_by_role("table", name="Assigned training")
    await expect(assigned).to_contain_text("Customer data protection")
    await expect(assigned).to_contain_text("Group Sales and its subgroups")
    await check_page(page)
    await shot(page, "training")

    # The HR system gets a SCIM token from the administrator.
    await visit(page, f"{base}/admin/scim")
    await page.get_by_label("Name").fill("HR system")
    await page.get_by_role("button", name="Create the token").click()
    token = (await page.locator("#new-token").inner_text()).strip()
    assert token.startswith("scim_")
    await check_page(page)

    # New hires arrive from the HR system: two in Sales, one in Support, all reporting to Max.
    scim_headers = {
        "Host": f"{tenant.slug}.localhost:{web_server}",
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/scim+json",
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web_server}", headers=scim_headers) as hr:
        for email, name, department in [
            ("nina.north@acme.example", "Nina North", "Sales"),
            ("sam.south@acme.example", "Sam South", "Sales"),
            ("sue.port@acme.example", "Sue Port", "Support"),
        ]:
            created = await hr.post("/scim/v2/Users", content=hire(email, name, department, manager.id))
            assert created.status_code == 201, created.text
            assert created.headers["content-type"].startswith("application/scim+json")

    # Within seconds, without the periodic job, the Sales hires have the course with its due date.
    await visit(page, f"{base}/admin/users?q=Nina+North")
    await page.get_by_role("link", name="Nina North").click()
    await expect(page.get_by_role("heading", name="Nina North")).to_be_visible()
    enrolments = page.get_by_role("table", name="Enrolments and progress")
    deadline = clock.now() + timedelta(seconds=patience(20))
    while not await enrolments.filter(has_text="Customer data protection").count():
        assert clock.now() < deadline, "the new hire was not enrolled within seconds"
        await page.wait_for_timeout(500)
        await page.reload()
    # The page says why: the attribute SCIM sent puts her in the group.
    await expect(page.get_by_text("department = Sales")).to_be_visible()
    # In the compliance report's words: enrolled, not started yet.
    await expect(enrolments.get_by_role("row", name="Customer data protection")).to_contain_text("Not started")
    await check_page(page)
    await shot(page, "new-hire")

    await visit(page, f"{base}/admin/training/report")
    report = page.get_by_role("table", name="Compliance report")
    await expect(report).to_contain_text("Nina North")
    await expect(report).to_contain_text("Sam South")
    await expect(report).not_to_contain_text("Sue Port")
    await check_page(page)
    await sign_out(page)

    # The week passes without them starting: their due date (the end of a day) is behind them.
    yesterday = (clock.now() - timedelta(days=1)).date()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(update(Enrollment).values(due_at=datetime.combine(yesterday, time(23, 59, 59), UTC)))

    # Their manager signs in and sees them overdue on the team's training page.
    await visit(page, f"{base}/team/training")
    await sign_in(page, manager.email, PASSWORD)
    await page.wait_for_url(f"{base}/team/training")
    await expect(page.get_by_role("heading", name="Your team's training")).to_be_visible()
    states = page.get_by_role("list", name="People per state")
    await expect(states.get_by_role("link", name="2 Overdue")).to_be_visible()
    team = page.get_by_role("table", name="Your team's training")
    await expect(team.get_by_role("row", name="Nina North")).to_contain_text("Overdue")
    await expect(team.get_by_role("row", name="Sam South")).to_contain_text("Overdue")
    await expect(team).not_to_contain_text("Sue Port")
    await check_page(page)
    await shot(page, "team-training")

    await states.get_by_role("link", name="2 Overdue").click()
    await expect(page.get_by_role("row", name="Nina North")).to_be_visible()
    await check_page(page)
    await visit(page, f"{base}/team")
    nina = page.get_by_role("row", name="Nina North")
    await expect(nina).to_contain_text("Customer data protection")
    # Overdue only: the same enrolment is not counted in progress as well.
    await expect(nina.get_by_role("cell").nth(3)).to_have_text("0")
    await expect(nina).to_contain_text(f"due {yesterday.strftime('%b')} {yesterday.day}, {yesterday.year}")
    await check_page(page)
    await shot(page, "team")
