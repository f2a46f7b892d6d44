"""Migrations of several databases on one server at once (a test run's workers, two deployments on a
shared server) all create or correct the same cluster-wide roles: none of them fails on the race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lms.config import Settings
from lms.db.migrate import create_roles
from lms.db.scratch import scratch_database


def test_role_creation_on_two_databases_at_once_never_fails(settings: Settings) -> None:
    with (
        scratch_database(settings, prefix="lms_roles") as first,
        scratch_database(settings, prefix="lms_roles") as second,
    ):
        urls = [first.database_url or "", second.database_url or ""] * 6

        def run(url: str) -> None:
            for _ in range(3):
                create_roles(url, settings.database_role_password)

        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            failures = [f.exception() for f in [pool.submit(run, url) for url in urls]]
    assert failures == [None] * len(urls)
