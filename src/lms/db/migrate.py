"""`lms migrate`: create the roles, then run Alembic as `lms_owner`."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, pool

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
    engine = create_engine(sync_url(admin_url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        ensure_roles(conn, make_url(admin_url).database or "postgres", settings.database_role_password)
    engine.dispose()
    command.upgrade(alembic_config(admin_url), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(_admin_url(settings)), revision)


def _admin_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    return settings.database_url
