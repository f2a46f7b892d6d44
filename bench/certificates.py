"""Certificate throughput: the issuance job path against raw Chromium printing, in the same run.

1. Job path: N completed enrolments go through `workers.certificates.issue_and_render`, the body of
   the Celery task the learning domain triggers (issue + sign + credential + template + QR + Chromium
   PDF + storage write + database update), one after another in one process with one warm browser.
2. Baseline: N x `page.set_content(html)` + `page.pdf()` of the same certificate HTML in one warm Chromium.
Both are timed in alternating blocks of 25, so background load on the machine hits both alike.

Prints certificates/s for both and the ratio (target >= 0.8). Then the job path runs again in one
process per core (as `lms worker` does, each with its own browser) to measure this machine's throughput,
from which it projects the hours to issue 50,000 certificates.
Run: `.venv/bin/python bench/certificates.py [--count 500]`. With DATABASE_URL set it uses that server
(a fresh database, dropped at the end); without it, an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from lms.catalog.models import Course, CourseStatus
from lms.certificates.models import Certificate
from lms.certificates.services import certificate_view
from lms.certificates.services.rendering import CHROMIUM, CHROMIUM_ARGS
from lms.config import Settings, get_settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.identity.models import User
from lms.learning.models import Enrollment, EnrollmentStatus
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

DAILY_VOLUME = 50_000
BLOCK = 25


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=500, help="certificates per path")
    parser.add_argument("--warmup", type=int, default=10, help="untimed renders per path")
    parser.add_argument("--target", type=float, default=0.8, help="lowest acceptable job/raw throughput ratio")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="worker processes for the projection"
    )
    return parser.parse_args(argv)


async def completed_enrollments(db: Database, settings: Settings, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A tenant with one course and `count` learners who completed it."""
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="bench"), settings.public_base_domain)
        tenant = await admin.create(f"bench-{uuid.uuid4().hex[:8]}", "Bench Learning Co", Plan.TEAM, count)
    now = datetime.now(UTC)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = Course(
            tenant_id=tenant.id, title="Workplace Safety Fundamentals", slug="safety", status=CourseStatus.PUBLISHED
        )
        session.add(course)
        users = [
            User(tenant_id=tenant.id, email=f"learner{i}@bench.test", display_name=f"Learner Number {i}")
            for i in range(count)
        ]
        session.add_all(users)
        await session.flush()
        enrollments = [
            Enrollment(
                tenant_id=tenant.id,
                user_id=user.id,
                course_id=course.id,
                course_owner=tenant.id,
                status=EnrollmentStatus.COMPLETED,
                completion_pct=100.0,
                completed_at=now,
            )
            for user in users
        ]
        session.add_all(enrollments)
        await session.flush()
        return tenant.id, [e.id for e in enrollments]


async def certificate_html(tenant_id: uuid.UUID, cert_id: str) -> str:
    """The HTML the job printed for a certificate (the baseline prints exactly this)."""
    from workers.certificates import templates
    from workers.runtime import database

    async with tenant_session(database().app_sessions, tenant_id) as session:
        cert = await session.get(Certificate, uuid.UUID(cert_id))
        assert cert is not None
        assert cert.pdf_key is not None
        view = await certificate_view(session, get_settings(), cert)
    return templates().render("bench", view)


async def print_raw(page: Page, html: str) -> None:
    await page.set_content(html, wait_until="load")
    await page.pdf(format="A4", landscape=True, print_background=True)


async def both_paths(tenant_id: uuid.UUID, ids: list[uuid.UUID], args: argparse.Namespace) -> tuple[float, float]:
    """Seconds for the job path and for the raw baseline, timed in alternating blocks.

    Alternating blocks of BLOCK certificates expose both paths to the same background load.
    """
    from workers.certificates import issue_and_render

    warm, timed = ids[: args.warmup], ids[args.warmup :]
    last = None
    for enrollment_id in warm:
        last = await issue_and_render(tenant_id, enrollment_id)
    assert last is not None
    html = await certificate_html(tenant_id, last)
    job_seconds = raw_seconds = 0.0
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page()
        for _ in range(args.warmup):
            await print_raw(page, html)
        for offset in range(0, len(timed), BLOCK):
            block = timed[offset : offset + BLOCK]
            started = time.perf_counter()
            for enrollment_id in block:
                await issue_and_render(tenant_id, enrollment_id)
            job_seconds += time.perf_counter() - started
            started = time.perf_counter()
            for _ in block:
                await print_raw(page, html)
            raw_seconds += time.perf_counter() - started
        await browser.close()
    return job_seconds, raw_seconds


async def run(settings: Settings, args: argparse.Namespace) -> tuple[float, float, uuid.UUID, list[uuid.UUID]]:
    db = create_database(settings)
    try:
        total = 2 * (args.count + args.warmup) + args.processes * args.warmup
        tenant_id, enrollment_ids = await completed_enrollments(db, settings, total)
    finally:
        await db.dispose()
    serial, parallel = enrollment_ids[: args.count + args.warmup], enrollment_ids[args.count + args.warmup :]
    job_seconds, raw_seconds = await both_paths(tenant_id, serial, args)
    from lms.certificates.services.rendering import process_renderer

    await process_renderer().close()
    return job_seconds, raw_seconds, tenant_id, parallel


def worker_process(tenant_id: uuid.UUID, ids: list[uuid.UUID], warmup: int, start: Any, results: Any) -> None:
    """One worker process: warm its own browser, wait for the others, then issue its share."""

    async def go() -> float:
        from workers.certificates import issue_and_render

        for enrollment_id in ids[:warmup]:
            await issue_and_render(tenant_id, enrollment_id)
        start.wait()
        started = time.perf_counter()
        for enrollment_id in ids[warmup:]:
            await issue_and_render(tenant_id, enrollment_id)
        return time.perf_counter() - started

    results.put(asyncio.run(go()))


def parallel_rate(tenant_id: uuid.UUID, ids: list[uuid.UUID], processes: int, warmup: int) -> float:
    """Certificates/s of `processes` worker processes issuing `ids` together (wall clock)."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    shares = [ids[i::processes] for i in range(processes)]
    children = [
        context.Process(target=worker_process, args=(tenant_id, share, warmup, start, results)) for share in shares
    ]
    for child in children:
        child.start()
    durations = [results.get(timeout=3600) for _ in children]
    for child in children:
        child.join()
    return sum(len(share) - warmup for share in shares) / max(durations)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url:
        settings, services = start_embedded(settings)
    storage = Path(tempfile.mkdtemp(prefix="lms-bench-certificates-"))
    try:
        with scratch_database(settings, prefix="lms_bench") as db_settings:
            migrate(db_settings)
            # The task body reads its settings from the environment, as a worker does.
            os.environ.update(
                DATABASE_URL=db_settings.database_url or "",
                DATABASE_ROLE_PASSWORD=db_settings.database_role_password,
                REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",  # no job is sent
                STORAGE_URL=f"file://{storage}",
            )
            get_settings.cache_clear()
            job_seconds, raw_seconds, tenant_id, parallel = asyncio.run(run(get_settings(), args))
            machine_rate = parallel_rate(tenant_id, parallel, args.processes, args.warmup)
    finally:
        services.stop()
    pdfs = sum(1 for _ in storage.rglob("*.pdf"))
    job_rate = args.count / job_seconds
    raw_rate = args.count / raw_seconds
    ratio = job_rate / raw_rate
    hours = DAILY_VOLUME / machine_rate / 3600
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} at the end of the run")
    print(f"certificates per path: {args.count} (after {args.warmup} warm-up renders); PDFs stored: {pdfs}")
    print(f"job path (issue+sign+credential+QR+Chromium PDF+store): {job_rate:7.2f} certificates/s")
    print(f"raw page.pdf() of the same HTML, warm Chromium:        {raw_rate:7.2f} certificates/s")
    print(f"ratio job/raw: {ratio:.2f} (target >= {args.target})")
    print(
        f"job path in {args.processes} worker processes (one browser each): {machine_rate:7.2f} certificates/s "
        f"({machine_rate / job_rate:.2f}x one process)"
    )
    print(f"projection: {DAILY_VOLUME:,} certificates (a day's volume) in {hours:.2f} h on this machine")
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
