"""Completing a course issues exactly one certificate, rendered to a PDF whose QR code verifies it."""

from __future__ import annotations

import asyncio
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.certificates.services import issue_for_enrollment
from lms.certificates.tasks import ISSUE_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.jobs import build_celery
from tests.conftest import MakeTenant, eventually, host
from tests.integration.catalog.helpers import Client
from tests.integration.certificates.conftest import Complete, Completion
from tests.support import TEST_BASE_DOMAIN, celery_worker

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A worker for this module only: later tests of other domains start from a worker-free queue."""
    with celery_worker(settings, tmp_path_factory.mktemp("certificates-worker") / "worker.log") as process:
        yield process


async def my_rendered_certificate(client: Client, done: Completion) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        items = (await client.get(f"{done.base}/api/v1/me/certificates", headers=done.headers)).json()["items"]
        return items[0] if items and items[0]["pdf_ready"] else None

    found: dict[str, Any] = await eventually(ready, timeout=60)
    return found


async def test_three_deliveries_and_a_retry_yield_one_certificate(
    client: Client, db: Database, settings: Settings, complete: Complete, worker: Any
) -> None:
    done = await complete()
    # The learning domain already sent the event once on commit; deliver it twice more.
    sender = build_celery(settings)
    results = [sender.send_task(ISSUE_TASK, args=[str(done.tenant.id), str(done.enrollment_id)]) for _ in range(2)]
    # A retried job racing the deliveries: three concurrent issuances in separate transactions.

    async def retry() -> Any:
        async with tenant_session(db.app_sessions, done.tenant.id) as session:
            cert = await issue_for_enrollment(session, settings, done.tenant.id, done.enrollment_id)
            return cert.id if cert else None

    raced = await asyncio.gather(retry(), retry(), retry())
    delivered = [await asyncio.to_thread(result.get, timeout=90) for result in results]
    mine = await my_rendered_certificate(client, done)

    async with tenant_session(db.app_sessions, done.tenant.id) as session:
        count = (
            await session.execute(
                select(func.count()).select_from(Certificate).where(Certificate.enrollment_id == done.enrollment_id)
            )
        ).scalar_one()
    assert count == 1
    assert {str(cert_id) for cert_id in raced} == set(delivered) == {mine["id"]}


async def test_the_pdf_names_learner_course_and_date_and_its_qr_code_verifies(
    client: Client, complete: Complete, worker: Any, tmp_path: Path
) -> None:
    done = await complete(name="Grace Brewster Hopper", title="Compiler Safety Fundamentals")
    mine = await my_rendered_certificate(client, done)

    download = await client.get(f"{done.base}{mine['download_url']}")

    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(download.content))
    page = reader.pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape
    text = " ".join(page.extract_text().split())
    issued = mine["issued_at"][:10]
    year, month, day = (int(part) for part in issued.split("-"))
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]  # fmt: skip
    assert "Grace Brewster Hopper" in text
    assert "Compiler Safety Fundamentals" in text
    assert f"Issued on {day} {months[month - 1]} {year}" in text
    fonts = {str(font) for font in _fonts(page)}
    assert fonts, "fonts must be embedded"

    pdf_path = tmp_path / "certificate.pdf"
    pdf_path.write_bytes(download.content)
    decoded = await asyncio.to_thread(decode_qr, pdf_path)
    assert decoded == f"http://{done.tenant.slug}.{TEST_BASE_DOMAIN}/verify/{mine['id']}"

    verified = await client.get(decoded, headers={"Accept": "application/json"})
    assert verified.status_code == 200
    assert verified.json()["status"] == "valid"
    assert verified.json()["learner_name"] == "Grace Brewster Hopper"


def decode_qr(pdf_path: Path) -> str:
    """Rasterise the first page (poppler) and read its QR code (zbar)."""
    png = pdf_path.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", str(pdf_path), str(png)], check=True)
    result = subprocess.run(["zbarimg", "--quiet", "--raw", f"{png}.png"], check=True, capture_output=True, text=True)
    return result.stdout.strip()


def _fonts(page: Any) -> list[Any]:
    """Embedded font programs of the page (FontFile, FontFile2 or FontFile3 in each descriptor)."""
    embedded = []
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        descriptors = [font.get("/FontDescriptor")]
        descriptors += [d.get_object().get("/FontDescriptor") for d in font.get("/DescendantFonts", [])]
        for descriptor in descriptors:
            if descriptor is None:
                continue
            descriptor = descriptor.get_object()
            embedded += [descriptor[k] for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor]
    return embedded


async def test_download_links_are_short_lived_signed_and_bound_to_the_tenant(
    client: Client, complete: Complete, make_tenant: MakeTenant, worker: Any
) -> None:
    done = await complete()
    mine = await my_rendered_certificate(client, done)
    link = urlsplit(mine["download_url"])
    query = {key: values[0] for key, values in parse_qs(link.query).items()}
    other = await make_tenant()

    expired = await client.get(
        f"{done.base}{link.path}",
        params={"expires": str(int(query["expires"]) - 3600), "signature": query["signature"]},
    )
    forged = await client.get(f"{done.base}{link.path}", params={**query, "signature": "0" * 64})
    elsewhere = await client.get(f"{host(other)}{mine['download_url']}")

    assert expired.status_code == 404
    assert forged.status_code == 404
    assert elsewhere.status_code == 404
    assert (await client.get(f"{done.base}{mine['download_url']}")).status_code == 200
