"""Alembic environment: runs every revision as `lms_owner` on the administrative connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from lms.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("run migrations with `lms migrate`, which passes the database URL")


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Objects created here belong to lms_owner, never to the administrative user.
        connection.execute(text("SET ROLE lms_owner"))
        connection.commit()
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
