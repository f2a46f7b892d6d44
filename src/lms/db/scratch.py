"""Throw-away databases on the configured server, for the test suite and the benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import create_engine, make_url, pool, text

from lms.config import Settings, sync_url


@contextmanager
def scratch_database(settings: Settings, prefix: str = "lms_scratch") -> Iterator[Settings]:
    """A new, empty database on the same server (settings pointing at it), dropped afterwards."""
    if not settings.database_url:
        raise RuntimeError("a scratch database needs DATABASE_URL or the embedded runtime")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sync_url(settings.database_url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield replace(settings, database_url=url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
