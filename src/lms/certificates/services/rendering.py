"""Certificate PDFs: a branded HTML template (branding/certificates/) printed by Chromium.

One browser per process, started on first use and restarted when it dies; one page reused for every
certificate (serialised by a lock). Rendering never touches the network: the logo, signature and QR
code are inlined as data URLs and every other request is aborted.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import qrcode
import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from playwright.async_api import Browser, Page, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PAPERS = ("A4", "Letter")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CertificateView:
    """Everything printed on a certificate."""

    cert_id: str
    learner_name: str
    course_title: str
    tenant_name: str
    issued_at: datetime
    expires_at: datetime | None
    verify_url: str
    primary_color: str
    accent_color: str
    logo_data_url: str | None
    signatory_name: str
    signatory_title: str
    signature_image: str | None
    paper: str


def qr_svg(text: str) -> Markup:
    """QR code of `text` as inline SVG: one path of unit squares, vector-sharp at any print size.

    Medium error correction survives printing. The mask pattern is fixed: searching all eight for the
    "best" one costs more than the rest of the work (any mask decodes; it only tunes contrast runs).
    Inline SVG prints faster in Chromium than an <img> of the same SVG or of a PNG.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, mask_pattern=0)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    path = "".join(f"M{x} {y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark)
    # Only integers go into this markup, so nothing needs escaping.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" '
        f'role="img" aria-label="Verification QR code"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )


@lru_cache(maxsize=64)
def _file_data_url(path: Path, mtime_ns: int) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def static_data_url(static_dir: Path, url: str) -> str | None:
    """Inline a /static/ asset of the theme; other URLs are not fetched while printing."""
    if not url.startswith("/static/"):
        return None
    path = (static_dir / url.removeprefix("/static/")).resolve()
    if not path.is_relative_to(static_dir.resolve()) or not path.is_file():
        return None
    return _file_data_url(path, path.stat().st_mtime_ns)


def _long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


class CertificateTemplates:
    """The default template, or a tenant's own `branding/certificates/tenants/<slug>.html`."""

    def __init__(self, branding_dir: Path) -> None:
        self.directory = branding_dir / "certificates"
        self.env = Environment(
            loader=FileSystemLoader(str(self.directory)), autoescape=select_autoescape(["html"]), auto_reload=False
        )
        self.env.filters["long_date"] = _long_date

    def render(self, tenant_slug: str, view: CertificateView) -> str:
        override = f"tenants/{tenant_slug}.html"
        name = override if (self.directory / override).is_file() else "certificate.html"
        context: dict[str, Any] = {"c": view, "qr": qr_svg(view.verify_url)}
        return self.env.get_template(name).render(**context)


async def _offline(route: Route) -> None:
    await route.abort()


class PdfRenderer:
    """A warm Chromium: one browser and one reused page per process."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None
        self._lock = asyncio.Lock()

    async def _start(self) -> Browser:
        await self._stop_browser()
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        return self._browser

    async def page(self) -> Page:
        browser = self._browser
        if browser is None or not browser.is_connected():
            browser = await self._start()
        if self._page is None or self._page.is_closed():
            self._page = await browser.new_page()
            await self._page.route("**/*", _offline)
        return self._page

    async def pdf(self, html: str, paper: str = "A4") -> bytes:
        """Print `html` to a landscape PDF; a dead browser is restarted once and the print retried."""
        if paper not in PAPERS:
            raise ValueError(f"paper must be one of {', '.join(PAPERS)}")
        async with self._lock:
            for attempt in (1, 2):
                try:
                    page = await self.page()
                    await page.set_content(html, wait_until="load")
                    return await page.pdf(format=paper, landscape=True, print_background=True)
                except PlaywrightError:
                    if attempt == 2:
                        raise
                    log.warning("chromium failed; restarting it")
                    await self._start()
        raise AssertionError("unreachable")

    async def _stop_browser(self) -> None:
        browser, self._browser, self._page = self._browser, None, None
        if browser is not None:
            try:
                await browser.close()
            except PlaywrightError:
                log.info("chromium was already gone")

    async def close(self) -> None:
        await self._stop_browser()
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


_renderer: PdfRenderer | None = None


def process_renderer() -> PdfRenderer:
    """This process's renderer (workers keep it, and its browser, for their whole life)."""
    global _renderer
    if _renderer is None:
        _renderer = PdfRenderer()
    return _renderer
