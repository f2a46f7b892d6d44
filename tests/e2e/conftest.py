"""Browser-test harness: the app in its own process, Debian's Chromium, and axe-core on every page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from lms.config import PROJECT_ROOT, Settings

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
AXE_SOURCE = PROJECT_ROOT / "node_modules/axe-core/axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}


@contextmanager
def serving_app(settings: Settings) -> Iterator[int]:
    """The app over real HTTP on `<slug>.localhost:<port>` (a secure context, so Secure cookies work),
    started with this process's environment as it is now (a module may add a provider's address)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        # The same files as the test process and its workers (videos, submissions, certificate PDFs).
        STORAGE_URL=settings.storage_url or "",
        LMS_DATA_DIR=str(settings.data_dir),
        PUBLIC_BASE_DOMAIN="localhost",
        TENANT_CACHE_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "uvicorn", "lms.app:create_app", "--factory", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(20)


@pytest.fixture(scope="session")
def web_server(settings: Settings) -> Iterator[int]:
    """One app process for every story of this test process (starting one costs seconds of CPU); a
    module that needs other settings overrides this fixture with `serving_app` of its own."""
    with serving_app(settings) as port:
        yield port


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


# Staff stories (instructors, admins, operators work at a desk) run once, at desktop size, and every page
# they visit is also audited narrow (axe-core and sideways scrolling at 360 px). Learners' stories run
# whole at both sizes: they open the site on a phone between meetings.
STAFF = "desktop-audited-narrow"
staff_story = pytest.mark.parametrize("context", [STAFF], indirect=True)
_audited_narrow: weakref.WeakSet[BrowserContext] = weakref.WeakSet()


@pytest.fixture(params=list(VIEWPORTS))
async def context(request: pytest.FixtureRequest, chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser (no cookies) at desktop and at phone size: each story runs at both (a staff
    story, marked `staff_story`, at desktop only)."""
    viewport = VIEWPORTS["desktop" if request.param == STAFF else request.param]
    context = await chromium.new_context(viewport=viewport, locale="en-GB")  # type: ignore[arg-type]
    if request.param == STAFF:
        _audited_narrow.add(context)
    yield context
    await context.close()


def audited_narrow(page: Page) -> bool:
    """Whether each page of this story is also audited at phone width (a staff story's)."""
    return page.context in _audited_narrow


async def assert_accessible(page: Page) -> None:
    """axe-core (pinned in package.json) on the page as it is now: no serious or critical violation."""
    # A click that follows a link returns once the next page has started loading; auditing a page that is
    # still being parsed finds no <head> to add axe to (or audits half a page).
    await page.wait_for_load_state("load")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=AXE_SOURCE.read_text())
    result: dict[str, Any] = await page.evaluate(
        # Only violations are read, so axe skips collecting the nodes that passed (a fifth of its time).
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},"
        " resultTypes: ['violations']})"
    )
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert blocking == [], f"{page.url}: {blocking}"


async def assert_no_horizontal_scroll(page: Page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
