"""Every revision upgrades to head and downgrades back to an empty schema."""

from __future__ import annotations

from sqlalchemy import create_engine, pool, text

from lms.config import Settings, sync_url
from lms.db.base import metadata
from lms.db.migrate import downgrade, migrate
from tests.support import fresh_database


def tables(settings: Settings) -> set[str]:
    engine = create_engine(sync_url(settings.database_url or ""), poolclass=pool.NullPool)
    with engine.connect() as conn:
        names = conn.execute(
            text("select tablename from pg_tables where schemaname = 'public' and tablename <> 'alembic_version'")
        ).scalars()
        result = set(names)
    engine.dispose()
    return result


def test_upgrade_to_head_then_downgrade_to_base(settings: Settings) -> None:
    with fresh_database(settings) as scratch:
        migrate(scratch)
        assert tables(scratch) == set(metadata.tables)
        downgrade(scratch, "base")
        assert tables(scratch) == set()
        migrate(scratch)  # and up again: downgrades leave nothing behind that blocks a re-run
        assert tables(scratch) == set(metadata.tables)
