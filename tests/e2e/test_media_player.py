"""A viewer opens the player in Chromium: the adaptive stream plays across segments, quality and
captions can be switched, heartbeats save the position, and coming back resumes from it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from playwright.async_api import Browser, async_playwright

from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests import factories
from tests.conftest import eventually
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


async def test_player_streams_switches_quality_and_resumes_where_the_viewer_left(
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
    watch_url = f"{media_live_server}/media/{ready_video.asset_id}/watch?lesson={lesson.id}"

    await page.goto(watch_url)
    assert await page.title() == f"{ready_video.asset['title']} · Media Academy"
    await page.wait_for_function("window.lmsPlayer.hls && window.lmsPlayer.hls.levels.length === 2")
    assert await page.locator("#quality option").all_inner_texts() == ["Auto", "360p", "480p"]
    await page.wait_for_function("document.querySelectorAll('#captions option').length === 2")
    await page.select_option("#captions", "0")
    assert await page.evaluate("window.lmsPlayer.hls.subtitleTrack") == 0
    await page.select_option("#quality", label="360p")
    assert await page.evaluate("[window.lmsPlayer.hls.autoLevelEnabled, window.lmsPlayer.hls.loadLevel]") == [False, 0]

    await page.evaluate("const v = document.getElementById('video'); v.muted = true; v.play()")
    # Past the first 6-second segment into the next one.
    await page.wait_for_function("document.getElementById('video').currentTime > 7.5", timeout=30_000)
    await page.evaluate("document.getElementById('video').pause()")
    paused_at = await page.evaluate("document.getElementById('video').currentTime")
    assert await page.evaluate("window.lmsPlayer.ttffMs") > 0
    # The 10-second heartbeat reports the position to the learning record and the quality beacons.
    await page.wait_for_function(
        "window.lmsPlayer.lastHeartbeatPosition !== null && window.lmsPlayer.beaconsSent >= 1"
        f" && window.lmsPlayer.progressSent >= 1 && window.lmsPlayer.lastHeartbeatPosition >= {paused_at - 0.1}",
        timeout=15_000,
    )
    learner = {"Authorization": f"Bearer {token}"}

    async def saved_position() -> float | None:
        response = await media_client.get(f"/api/v1/progress/lessons/{lesson.id}/resume", headers=learner)
        position = float(response.json()["position_seconds"])
        return position if position >= paused_at - 0.1 else None

    await eventually(saved_position, timeout=20)

    await page.goto(watch_url)
    await page.wait_for_function("window.lmsPlayer.resumedFrom !== null")
    resumed_from = await page.evaluate("window.lmsPlayer.resumedFrom")
    assert abs(resumed_from - paused_at) < 0.5
    await page.wait_for_function("document.getElementById('video').readyState >= 2", timeout=15_000)
    position = await page.evaluate("document.getElementById('video').currentTime")
    assert abs(position - paused_at) < 1.0
    await context.close()

    sessions = (
        await media_client.get(
            f"/api/v1/media/assets/{ready_video.asset_id}/playback-sessions", headers=media_site.staff_headers
        )
    ).json()["items"]
    mine = [s for s in sessions if s["user_id"] == str(viewer.id)]
    assert mine
    assert any(s["time_to_first_frame_ms"] for s in mine)
    assert any("360p" in s["renditions"] for s in mine)
