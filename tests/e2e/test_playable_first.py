"""An instructor uploads a 60-second H.264 lecture: it plays in Chromium from the stream copy before
any ladder rung is encoded; the ladder then replaces the copy in the master playlist."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest
from playwright.async_api import Browser, async_playwright, expect

from lms.config import Settings
from lms.db.engines import Database
from lms.lib.storage import storage_for
from lms.media.services.pipeline import process_asset
from tests.e2e.conftest import assert_accessible
from tests.media_fixtures import MediaSite, SiteClient, generate_video, send_parts, start_upload, wait_for_asset
from tests.support import celery_worker, private_queue

pytestmark = pytest.mark.e2e

CAPTIONS = (
    b"WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nWelcome to the lecture.\n\n"
    b"00:00:10.000 --> 00:00:16.000\nHere the second chunk begins.\n\n"
    b"00:00:40.000 --> 00:00:45.000\nThank you for watching.\n"
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"],
        )
        yield browser
        await browser.close()


@pytest.fixture
def queue(settings: Settings) -> Iterator[Settings]:
    # No worker consumes this queue until the test starts one: the ladder waits, deterministically.
    with private_queue(settings) as private:
        yield private


def variants(master: str) -> list[str]:
    return [line.split("/hls/")[1] for line in master.splitlines() if "/hls/" in line and not line.startswith("#")]


async def test_a_lecture_plays_from_the_stream_copy_before_the_ladder_is_encoded(
    browser: Browser,
    media_live_server: str,
    media_site: MediaSite,
    media_client: SiteClient,
    db: Database,
    queue: Settings,
    tmp_path: Path,
) -> None:
    data = generate_video(tmp_path / "lecture.mp4", 60, "640x360").read_bytes()
    headers = media_site.staff_headers
    upload = await start_upload(media_client, headers, "lecture.mp4", len(data))
    await send_parts(media_client, headers, upload, data)
    assert (await media_client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)).is_success
    asset_id = upload["asset_id"]

    # The preparing job (what `media.transcode` runs): probe, stream copy, poster, sprite, plan.
    started = time.monotonic()
    chunked = replace(queue, media_chunk_seconds=12)
    status = await process_asset(
        db, storage_for(chunked), chunked, media_site.tenant.id, UUID(asset_id), final_attempt=True
    )
    prepared_in = time.monotonic() - started
    assert status == "processing"
    assert prepared_in < 30

    asset = (await media_client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
    assert asset["playable"] is True
    assert asset["status"] == "processing"
    assert asset["playable_at"] is not None
    assert [r["name"] for r in asset["renditions"]] == ["source"]  # no ladder rung yet
    master = (await media_client.get(f"/api/v1/media/assets/{asset_id}/master.m3u8", headers=headers)).text
    assert variants(master) == ["source/index.m3u8"]
    assert "RESOLUTION=640x360" in master

    context = await browser.new_context()
    token = await media_site.token_for(media_site.instructor)
    await context.add_cookies(
        [
            {"name": "lms_session", "value": token, "url": media_live_server},
            {"name": "lms_csrf", "value": secrets.token_urlsafe(16), "url": media_live_server},
        ]
    )
    page = await context.new_page()
    await page.goto(f"{media_live_server}/media/{asset_id}/watch")
    await page.wait_for_function("window.lmsPlayer.hls && window.lmsPlayer.hls.levels.length === 1")
    await page.evaluate("const v = document.getElementById('video'); v.muted = true; v.play()")
    # Across the first segments of the copy (cut on the source's keyframes).
    await page.wait_for_function("document.getElementById('video').currentTime > 9", timeout=40_000)
    assert await page.evaluate("window.lmsPlayer.ttffMs") > 0
    await context.close()

    # A worker encodes the ladder in chunks; the ladder then takes the copy's place in the master.
    with celery_worker(queue, tmp_path / "worker.log"):
        ready = await wait_for_asset(media_client, headers, asset_id, {"ready", "failed"}, timeout=120)
    assert ready["status"] == "ready", ready["failure_reason"]
    assert ready["progress"] == 100
    assert [r["name"] for r in ready["renditions"]] == ["360p"]
    master = (await media_client.get(f"/api/v1/media/assets/{asset_id}/master.m3u8", headers=headers)).text
    assert variants(master) == ["360p/index.m3u8"]

    # Captions become a transcript beside the player; a line, chosen with the keyboard, seeks there.
    captions = await media_client.put(
        f"/api/v1/media/assets/{asset_id}/captions/en?label=English", content=CAPTIONS, headers=headers
    )
    assert captions.status_code == 200
    context = await browser.new_context()
    await context.add_cookies(
        [
            {"name": "lms_session", "value": token, "url": media_live_server},
            {"name": "lms_csrf", "value": secrets.token_urlsafe(16), "url": media_live_server},
        ]
    )
    page = await context.new_page()
    await page.goto(f"{media_live_server}/media/{asset_id}/watch")
    await page.wait_for_function("window.lmsPlayer.hls && window.lmsPlayer.hls.levels.length === 1")
    lines = page.locator(".transcript-line")
    await expect(lines).to_have_count(3)
    await assert_accessible(page)
    await page.evaluate("document.getElementById('video').muted = true")
    await lines.nth(1).focus()
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "const v = document.getElementById('video'); v.currentTime >= 10 && v.currentTime < 11.5 && !v.paused",
        timeout=20_000,
    )
    stalls_before = await page.evaluate("window.lmsPlayer.stalls")
    # Playback crosses the chunk boundary at 12 s without a stall, and the said line is marked.
    await page.wait_for_function("document.getElementById('video').currentTime > 14", timeout=30_000)
    await expect(lines.nth(1)).to_have_attribute("aria-current", "true")
    assert await page.evaluate("window.lmsPlayer.stalls") == stalls_before
    await context.close()
