"""`lms migrate`: create the roles, then run Alembic as `lms_owner`."""

from __future__ import annotations

import random
import time

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, pool
from sqlalchemy.exc import DBAPIError

from lms.config import PROJECT_ROOT, Settings, sync_url
from lms.db.roles import ensure_roles


def alembic_config(admin_url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # Alembic's ini interpolation treats % specially.
    cfg.set_main_option("sqlalchemy.url", sync_url(admin_url).replace("%", "%%"))
    return cfg


def migrate(settings: Settings, revision: str = "heads") -> None:
    admin_url = _admin_url(settings)
    create_roles(admin_url, settings.database_role_password)
    command.upgrade(alembic_config(admin_url), revision)


def create_roles(admin_url: str, password: str) -> None:
    """The platform's roles, created or corrected, with their grants on this database."""
    engine = create_engine(sync_url(admin_url), poolclass=pool.NullPool)
    for attempt in range(ROLE_ATTEMPTS):
        try:
            with engine.begin() as conn:
                ensure_roles(conn, make_url(admin_url).database or "postgres", password)
            break
        except DBAPIError as exc:
            # Roles are cluster-wide but advisory locks are per database: a migration of another
            # database on the same server can change a role at the same moment ("tuple concurrently
            # updated", "role ... already exists"). The second pass finds the roles and corrects them.
            if attempt + 1 == ROLE_ATTEMPTS or not _role_race(exc):
                raise
            time.sleep(0.05 + random.random() * 0.2)  # noqa: S311 - jitter, not a secret
    engine.dispose()


ROLE_ATTEMPTS = 10
ROLE_RACES = ("XX000", "42710", "23505")  # tuple concurrently updated, duplicate role, duplicate key


def _role_race(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ROLE_RACES or "concurrently" in str(exc.orig)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(_admin_url(settings)), revision)


def _admin_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    return settings.database_url
