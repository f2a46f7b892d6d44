"""An instructor uses the studio in Chromium, at desktop and phone size, with axe-core on every page:
create a course, build its outline (drag and drop and the keyboard's arrow buttons), write a text
lesson, publish, look at the versions; a colleague who does not teach the course cannot open it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from tests.conftest import MakeTenant, MakeUser
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.integration.identity.helpers import PASSWORD, make_member

# Set STUDIO_SHOTS=/some/folder to keep a screenshot of each page the story visits.
SHOTS = os.environ.get("STUDIO_SHOTS")


async def visit_check(page: Page, name: str) -> None:
    await check_page(page)
    if SHOTS:
        width = (page.viewport_size or {"width": 0})["width"]
        await page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)


async def lesson_titles(page: Page) -> list[str]:
    return [t.strip() for t in await page.locator(".outline-lesson .lesson-name a").all_inner_texts()]


async def test_instructor_creates_builds_reorders_writes_and_publishes_a_course(
    web_server: int, context: BrowserContext, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    teacher = await make_member(make_user, tenant, roles=["instructor"], display_name="Ines Instructor")
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/teach")
    await sign_in(page, teacher.email, PASSWORD)
    await expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    await visit_check(page, "1-my-courses-empty")

    await page.get_by_role("button", name="Create a course").first.click()
    await page.get_by_label("Title").fill("Fire safety")
    await page.get_by_label("Web name").fill("fire-safety")
    await page.get_by_role("button", name="Create the course").click()
    await expect(page.get_by_text("Your course is created.")).to_be_visible()
    await visit_check(page, "2-outline-empty")

    await page.get_by_label("Module title").fill("Before a fire")
    await page.get_by_role("button", name="Add the module").click()
    for title in ("Exits", "Alarms"):
        await page.get_by_text("Add a lesson to Before a fire").click()
        await page.get_by_label("Lesson title").fill(title)
        await page.get_by_role("button", name="Add the lesson").click()
        await expect(page.get_by_role("heading", name=title)).to_be_visible()
        await page.get_by_role("link", name="Back to the outline").click()
    assert await lesson_titles(page) == ["Exits", "Alarms"]
    await visit_check(page, "3-outline")

    # The keyboard path: focus the arrow button and press Enter.
    down = page.get_by_role("button", name="Move down: Exits")
    await down.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("The order is saved.")).to_be_visible()
    assert await lesson_titles(page) == ["Alarms", "Exits"]

    # Drag and drop by the handle.
    handles = page.locator(".outline-lesson .drag-handle")
    async with page.expect_navigation():
        await handles.nth(1).drag_to(page.locator(".outline-lesson").nth(0), target_position={"x": 5, "y": 2})
    assert await lesson_titles(page) == ["Exits", "Alarms"]

    await page.get_by_role("link", name="Exits").click()
    await page.get_by_label("Text", exact=True).fill("# Leave calmly\n\nUse the **nearest** exit.")
    await page.get_by_role("button", name="Save the lesson").click()
    await expect(page.locator(".prose strong")).to_have_text("nearest")
    await visit_check(page, "4-lesson")

    await page.get_by_role("link", name="Back to the outline").click()
    await page.get_by_role("link", name="Publish", exact=True).click()
    await visit_check(page, "5-publish-draft")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.get_by_text("Your course is published.")).to_be_visible()
    await expect(page.get_by_role("cell", name=re.compile("Current"))).to_be_visible()
    await visit_check(page, "6-published")

    await page.get_by_role("link", name="Settings", exact=True).click()
    await visit_check(page, "7-settings")
    await page.goto(f"{base}/teach")
    await expect(page.get_by_role("link", name="Fire safety", exact=True)).to_be_visible()
    await visit_check(page, "8-my-courses")
    course_url = await page.get_by_role("link", name="Fire safety", exact=True).get_attribute("href")

    # A colleague who does not teach it sees neither the course in their list nor its editor.
    colleague = await make_member(make_user, tenant, roles=["instructor"])
    assert context.browser is not None
    other = await context.browser.new_context(viewport=page.viewport_size)
    other_page = await other.new_page()
    await other_page.goto(f"{base}/teach")
    await sign_in(other_page, colleague.email, PASSWORD)
    await expect(other_page.get_by_text("You do not teach a course yet")).to_be_visible()
    response = await other_page.goto(f"{base}{course_url}")
    assert response is not None
    assert response.status == 403
    await other.close()
