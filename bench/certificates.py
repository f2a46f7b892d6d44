"""Certificate throughput: the issuance job path against raw Chromium printing, in the same run.

1. Job path: N completed enrolments go through `workers.certificates.issue_and_render`, the body of
   the Celery task the learning domain triggers (issue + sign + credential + template + QR + Chromium
   PDF + storage write + database update), one after another in one process with one warm browser.
2. Baseline: N x `page.set_content(html)` + `page.pdf()` of the same certificate HTML in one warm Chromium.

Prints certificates/s for both, the ratio (target >= 0.8), and projects the hours to issue 50,000
certificates on this machine with one worker process per core.
Run: `.venv/bin/python bench/certificates.py [--count 500]`. With DATABASE_URL set it uses that server
(a fresh database, dropped at the end); without it, an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import async_playwright
from rls_overhead import bench_database

from lms.catalog.models import Course, CourseStatus
from lms.certificates.models import Certificate
from lms.certificates.rendering import CHROMIUM, CHROMIUM_ARGS
from lms.certificates.services import certificate_view
from lms.config import Settings, get_settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.identity.models import User
from lms.learning.models import Enrollment, EnrollmentStatus
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

DAILY_VOLUME = 50_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=500, help="certificates per path")
    parser.add_argument("--warmup", type=int, default=10, help="untimed renders per path")
    parser.add_argument("--target", type=float, default=0.8, help="lowest acceptable job/raw throughput ratio")
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


async def job_path(tenant_id: uuid.UUID, enrollment_ids: list[uuid.UUID], warmup: int) -> tuple[float, str]:
    """Time the task body; return (seconds, HTML of the last certificate for the baseline)."""
    from workers.certificates import issue_and_render, templates

    for enrollment_id in enrollment_ids[:warmup]:
        await issue_and_render(tenant_id, enrollment_id)
    started = time.perf_counter()
    last = None
    for enrollment_id in enrollment_ids[warmup:]:
        last = await issue_and_render(tenant_id, enrollment_id)
    elapsed = time.perf_counter() - started
    assert last is not None
    from workers.runtime import database

    settings = get_settings()
    async with tenant_session(database().app_sessions, tenant_id) as session:
        cert = await session.get(Certificate, uuid.UUID(last))
        assert cert is not None
        assert cert.pdf_key is not None
        view = await certificate_view(session, settings, cert)
    return elapsed, templates().render("bench", view)


async def raw_path(html: str, count: int, warmup: int) -> float:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page()
        for _ in range(warmup):
            await page.set_content(html, wait_until="load")
            await page.pdf(format="A4", landscape=True, print_background=True)
        started = time.perf_counter()
        for _ in range(count):
            await page.set_content(html, wait_until="load")
            await page.pdf(format="A4", landscape=True, print_background=True)
        elapsed = time.perf_counter() - started
        await browser.close()
    return elapsed


async def run(settings: Settings, args: argparse.Namespace) -> tuple[float, float]:
    db = create_database(settings)
    try:
        tenant_id, enrollment_ids = await completed_enrollments(db, settings, args.count + args.warmup)
    finally:
        await db.dispose()
    job_seconds, html = await job_path(tenant_id, enrollment_ids, args.warmup)
    from lms.certificates.rendering import process_renderer

    await process_renderer().close()
    raw_seconds = await raw_path(html, args.count, args.warmup)
    return job_seconds, raw_seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url:
        settings, services = start_embedded(settings)
    storage = Path(tempfile.mkdtemp(prefix="lms-bench-certificates-"))
    try:
        with bench_database(settings) as db_settings:
            migrate(db_settings)
            # The task body reads its settings from the environment, as a worker does.
            os.environ.update(
                DATABASE_URL=db_settings.database_url or "",
                DATABASE_ROLE_PASSWORD=db_settings.database_role_password,
                REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",  # no job is sent
                STORAGE_URL=f"file://{storage}",
            )
            get_settings.cache_clear()
            job_seconds, raw_seconds = asyncio.run(run(get_settings(), args))
    finally:
        services.stop()
    pdfs = sum(1 for _ in storage.rglob("*.pdf"))
    job_rate = args.count / job_seconds
    raw_rate = args.count / raw_seconds
    ratio = job_rate / raw_rate
    cores = os.cpu_count() or 1
    hours = DAILY_VOLUME / (job_rate * cores) / 3600
    print(f"certificates per path: {args.count} (after {args.warmup} warm-up renders); PDFs stored: {pdfs}")
    print(f"job path (issue+sign+credential+QR+Chromium PDF+store): {job_rate:7.2f} certificates/s")
    print(f"raw page.pdf() of the same HTML, warm Chromium:        {raw_rate:7.2f} certificates/s")
    print(f"ratio job/raw: {ratio:.2f} (target >= {args.target})")
    print(
        f"projection: {DAILY_VOLUME:,} certificates in {hours:.2f} h with {cores} worker processes "
        f"({cores} cores, one browser each, assuming linear scaling)"
    )
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
