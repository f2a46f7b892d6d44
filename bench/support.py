"""Shared by the learning benchmarks: servers (the environment's or embedded) and a throw-away database."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import create_engine, make_url, pool, text

from lms.config import Settings, sync_url
from lms.runtime.embedded import EmbeddedServices, start_embedded


@contextmanager
def bench_settings(prefix: str, needs_redis: bool = True) -> Iterator[Settings]:
    """Settings pointing at a new, empty database (dropped afterwards); embedded servers for what is unset."""
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url or (needs_redis and not settings.redis_url):
        settings, services = start_embedded(settings)
        print(f"embedded services under {settings.data_dir.resolve()}", file=sys.stderr)
    assert settings.database_url
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sync_url(settings.database_url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield replace(settings, database_url=url, celery_queue=f"bench-{uuid.uuid4().hex[:8]}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        services.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]
