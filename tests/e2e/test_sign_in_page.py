"""A person signs in through the branded sign-in page in a real browser (Debian's Chromium)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing

import pytest
from playwright.async_api import async_playwright

from lms.config import PROJECT_ROOT, Settings
from tests.conftest import MakeTenant, MakeUser
from tests.integration.identity.helpers import PASSWORD, make_member

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[int]:
    """The API in its own process, answering on `<slug>.localhost` (a secure context for the browser)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        PUBLIC_BASE_DOMAIN="localhost",
        TENANT_CACHE_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "uvicorn", "lms.app:create_app", "--factory", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(20)


async def test_password_sign_in_through_the_page(
    live_server: int, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant(name="Acme Corp")
    user = await make_member(make_user, tenant, display_name="Ada Learner")
    base = f"http://{tenant.slug}.localhost:{live_server}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/sign-in?next=/")
            await page.fill("input[name=email]", user.email)
            await page.click("button[type=submit]")
            await page.fill("input[name=password]", "not the password at all")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#password-error:has-text('not correct')")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/")
            cookies = {c["name"]: c for c in await page.context.cookies()}
            assert cookies["lms_session"]["httpOnly"] is True
            assert cookies["lms_session"]["sameSite"] == "Lax"
            me = await page.evaluate("fetch('/api/v1/me').then(r => r.json())")
            assert me["display_name"] == "Ada Learner"
        finally:
            await browser.close()
