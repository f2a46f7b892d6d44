"""The video player with the keyboard only: Tab reaches the video, Space plays, the seek slider moves
with the keys, and the captions list is switched on without a mouse; axe-core finds nothing
serious on the page."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from playwright.async_api import Browser, Page, async_playwright

from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests import factories
from tests.e2e.conftest import assert_accessible
from tests.media_fixtures import MediaSite, SiteClient, UploadedVideo

pytestmark = pytest.mark.e2e

CAPTIONS = b"WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nWelcome to the lecture.\n"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"],
        )
        yield browser
        await browser.close()


async def tab_to(page: Page, element_id: str) -> None:
    for _ in range(40):
        if await page.evaluate("document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} is not reachable with Tab")


async def test_player_controls_and_captions_are_reachable_by_keyboard(
    browser: Browser,
    ready_video: UploadedVideo,
    media_live_server: str,
    media_site: MediaSite,
    media_client: SiteClient,
    db: Database,
    media_worker: Any,
) -> None:
    tenant_id = media_site.tenant.id
    async with tenant_session(db.app_sessions, tenant_id) as session:
        viewer = await factories.identity.make_user(session, tenant_id, roles=["learner"])
        course = await factories.catalog.make_course(session, tenant_id)
        module = await factories.catalog.make_module(session, tenant_id, course=course)
        lesson = await factories.catalog.make_lesson(
            session, tenant_id, module=module, media_asset_id=UUID(ready_video.asset_id)
        )
        await factories.learning.make_enrollment(
            session, tenant_id, user_id=viewer.id, course_id=course.id, course_owner=course.catalogue_owner
        )
    caption = await media_client.put(
        f"/api/v1/media/assets/{ready_video.asset_id}/captions/en?label=English",
        content=CAPTIONS,
        headers=media_site.staff_headers,
    )
    assert caption.status_code == 200
    context = await browser.new_context()
    token = await media_site.token_for(viewer)
    await context.add_cookies(
        [
            {"name": "lms_session", "value": token, "url": media_live_server},
            {"name": "lms_csrf", "value": secrets.token_urlsafe(16), "url": media_live_server},
        ]
    )
    page = await context.new_page()
    await page.goto(f"{media_live_server}/media/{ready_video.asset_id}/watch?lesson={lesson.id}")
    await page.wait_for_function("document.querySelectorAll('#captions option').length === 2")
    await assert_accessible(page)

    await tab_to(page, "video")
    await page.keyboard.press("Space")
    await page.wait_for_function("!document.getElementById('video').paused")

    await page.wait_for_function("document.getElementById('video').currentTime > 1.2")
    await tab_to(page, "scrub")
    await page.keyboard.press("Home")  # the slider's start: back to the beginning
    await page.wait_for_function("document.getElementById('video').currentTime < 1")
    assert await page.get_attribute("#scrub", "aria-valuetext")

    await tab_to(page, "captions")
    await page.keyboard.press("ArrowDown")
    await page.wait_for_function("window.lmsPlayer.hls.subtitleTrack === 0")
    assert await page.evaluate("document.getElementById('captions').value") == "0"
    await context.close()
