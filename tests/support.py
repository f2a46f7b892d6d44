"""Test infrastructure: real PostgreSQL and Redis (the running ones when DATABASE_URL/REDIS_URL are
set, embedded ones otherwise), a fresh migrated database per run, and a real Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, make_url, pool, text

from lms.config import PROJECT_ROOT, Settings, sync_url
from lms.db.scratch import scratch_database
from lms.runtime.embedded import start_embedded

TEST_BASE_DOMAIN = "lms.test"


@contextmanager
def test_services(data_dir: Path) -> Iterator[Settings]:
    """Server URLs for this run: the environment's, or embedded services under `data_dir`."""
    settings = Settings.from_env()
    settings = replace(settings, data_dir=data_dir, public_base_domain=TEST_BASE_DOMAIN)
    settings, services = start_embedded(settings)
    # A stopped test run (SIGTERM, as `make test` stopped with its process group gets) unwinds like
    # Ctrl-C does, so the session's teardown still stops the embedded servers.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield settings
    finally:
        signal.signal(signal.SIGTERM, previous)
        services.stop()


def _interrupt(signum: int, _: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def fresh_database(settings: Settings) -> Iterator[Settings]:
    """A new, empty database on the same server, dropped afterwards. Its commits do not wait for the
    disk (`synchronous_commit = off`): a test run never outlives a crash of its server, and thousands
    of commits each waiting for an fsync would only be idle time."""
    with scratch_database(settings, prefix="lms_test") as fresh:
        assert fresh.database_url is not None
        name = make_url(fresh.database_url).database
        admin = create_engine(sync_url(fresh.database_url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        admin.dispose()
        yield fresh


def worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        PUBLIC_BASE_DOMAIN=settings.public_base_domain,
        LMS_DATA_DIR=str(settings.data_dir),
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        LOG_FORMAT="console",
    )
    if settings.storage_url:
        env["STORAGE_URL"] = settings.storage_url
    return env


@contextmanager
def celery_worker(
    settings: Settings, log_file: Path, *, beat: bool = False, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process on this run's private queue (with `beat`, also the periodic jobs);
    its own process group, so a test can kill the whole worker at once."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--queues",
        settings.celery_queue,
        "--concurrency",
        "2",
        "--loglevel",
        "INFO",
        "--hostname",
        f"test-{uuid.uuid4().hex[:6]}@%h",
    ]
    if beat:
        command += ["--beat", "--schedule", str(log_file.with_suffix(".beat"))]
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**worker_env(settings), **(env or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            _wait_for_ready(log_file, process)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()


def _wait_for_ready(log_file: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_file.read_text()}")
        if " ready." in log_file.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready in {timeout}s:\n{log_file.read_text()}")


def patience(seconds: float) -> float:
    """How long to wait for background work: longer when the suite runs in several processes, which
    share the cores with each other's workers and FFmpeg (a condition never met still fails)."""
    return seconds * (3 if os.environ.get("PYTEST_XDIST_WORKER_COUNT") else 1)


def wait_until(predicate, timeout: float = 30, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll a synchronous predicate until it returns something truthy."""
    timeout = patience(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@contextmanager
def private_queue(settings: Settings) -> Iterator[Settings]:
    """This run's settings with a queue of their own, which the API sends to meanwhile: a test that
    kills or starves its workers is not rescued (or disturbed) by a worker another test left running."""
    from lms.lib.jobs import build_celery, redirect_jobs

    private = replace(settings, celery_queue=f"{settings.celery_queue}-{uuid.uuid4().hex[:6]}")
    redirect_jobs(build_celery(private))
    try:
        yield private
    finally:
        redirect_jobs(None)
