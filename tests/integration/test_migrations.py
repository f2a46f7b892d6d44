"""Every revision upgrades to head and downgrades back to an empty schema; the primary key swap (1500)
keeps every row of a populated database."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool, text

from lms.config import Settings, sync_url
from lms.db.base import metadata
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import alembic_config, downgrade, migrate
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin
from tests.factories import ROW_FACTORIES
from tests.support import fresh_database

KEY_SWAP = "1500"


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


def schema(settings: Settings) -> dict[str, Any]:
    """Row counts, primary keys (columns in key order), indexes and foreign keys of the public tables."""
    engine = create_engine(sync_url(settings.database_url or ""), poolclass=pool.NullPool)
    with engine.connect() as conn:
        found = {
            "rows": {
                table: conn.execute(text(f"select count(*) from {table}")).scalar_one() for table in metadata.tables
            },
            "keys": dict(_rows(conn, PRIMARY_KEYS)),
            "indexes": set(_rows(conn, "select tablename, indexname from pg_indexes where schemaname = 'public'")),
            "foreign_keys": set(_rows(conn, FOREIGN_KEYS)),
        }
    engine.dispose()
    return found


PRIMARY_KEYS = """
    select c.conrelid::regclass::text, array_agg(a.attname::text order by k.ord)
      from pg_constraint c
     cross join unnest(c.conkey) with ordinality as k(attnum, ord)
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
     where c.contype = 'p' and c.connamespace = 'public'::regnamespace
       and c.conrelid <> 'alembic_version'::regclass
     group by c.conrelid
"""
FOREIGN_KEYS = """
    select conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
      from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace
"""


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"select count(*) from {table}")).scalar_one())


def _rows(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(text(sql))]


async def test_the_primary_key_swap_keeps_every_row_and_key(settings: Settings) -> None:
    with fresh_database(settings) as scratch:
        config = alembic_config(scratch.database_url or "")
        swap = ScriptDirectory.from_config(config).get_revision(KEY_SWAP)
        assert swap is not None
        assert isinstance(swap.down_revision, tuple)
        before_swap: tuple[str, ...] = swap.down_revision
        # Rows are written with today's models, so at the newest revision; then the schema goes back to
        # just before the swap (later revisions' columns go with it, the rows stay).
        migrate(scratch)
        db = create_database(scratch)
        try:
            async with db.operator_sessions() as session, session.begin():
                tenant = await TenantAdmin(session, Actor(name="test"), scratch.public_base_domain).create(
                    "keys", "Keys", Plan.ENTERPRISE, 10, None
                )
            for table in sorted(ROW_FACTORIES):  # a row in every tenant table, with the rows it points at
                async with tenant_session(db.app_sessions, tenant.id) as session:
                    await ROW_FACTORIES[table](session, tenant.id)
        finally:
            await db.dispose()
        downgrade(scratch, before_swap[-1])
        old = schema(scratch)
        assert all(old["rows"][table] > 0 for table in ROW_FACTORIES)

        command.upgrade(config, KEY_SWAP)
        new = schema(scratch)
        assert new["rows"] == old["rows"]
        assert new["foreign_keys"] == old["foreign_keys"]
        declared = {table.name: [col.name for col in table.primary_key.columns] for table in metadata.sorted_tables}
        assert new["keys"] == declared
        assert new["keys"]["users"] == ["tenant_id", "id"]
        # The key leads with tenant_id: no index on tenant_id alone; the catalogue's key leads with its owner.
        assert ("users", "ix_users_tenant_id") in old["indexes"] - new["indexes"]
        assert ("courses", "ix_courses_id") in new["indexes"]
        assert new["keys"]["courses"] == ["catalogue_owner", "id"]
        # The (tenant_id, id) unique indexes became primary keys: one index fewer on those tables.
        assert ("users", "ux_users_tenant_id_id") in old["indexes"] - new["indexes"]
        assert ("courses", "ux_courses_tenant_id_id") in new["indexes"]  # shared rows have no tenant_id

        command.upgrade(config, "heads")
        declared_indexes = {(table.name, index.name) for table in metadata.sorted_tables for index in table.indexes}
        assert declared_indexes <= schema(scratch)["indexes"]

        downgrade(scratch, before_swap[-1])
        back = schema(scratch)
        assert {k: v for k, v in back.items() if k != "rows"} == {k: v for k, v in old.items() if k != "rows"}
        # Every row is kept, but 1450 (after the swap) empties the rollup marks on purpose: a full recount.
        cleared = {"analytics_rollup_marks"}
        assert {t: n for t, n in back["rows"].items() if t not in cleared} == {
            t: n for t, n in old["rows"].items() if t not in cleared
        }
