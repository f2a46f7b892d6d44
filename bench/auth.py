"""What authentication costs a request: requests/s of an authenticated `GET /api/v1/me` through the full
middleware stack (host -> tenant resolution, RS256 JWT verification, tenant binding, the user lookup under
RLS) versus the bare `GET /health`, in the same run, against the same server process.

Run: `.venv/bin/python bench/auth.py` (or `make bench`). With DATABASE_URL/REDIS_URL set it uses those
servers; without them, embedded ones, as `lms` does. The database it creates is dropped at the end.
Exit status 0 when the authenticated route keeps at least `--target` (60%) of the bare route's throughput.

The load generator is a minimal keep-alive HTTP/1.1 client on raw sockets, so that the client's own cost
stays small next to the server's; rounds of both routes alternate to cancel drift.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BASE_DOMAIN = "bench.test"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per route (alternating)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--target", type=float, default=0.60, help="lowest acceptable /me : /health ratio")
    return parser.parse_args(argv)


async def arrange(settings: Settings) -> tuple[str, str]:
    """A tenant with one learner; returns (tenant host, access token)."""
    db = create_database(settings)
    try:
        slug = f"bench-{uuid.uuid4().hex[:6]}"
        async with db.operator_sessions() as session, session.begin():
            tenant = await TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN).create(slug, "Bench", Plan.TEAM, 10)
        async with tenant_session(db.app_sessions, tenant.id) as session:
            user = User(tenant_id=tenant.id, email="learner@bench.test", display_name="Bench Learner")
            session.add(user)
            await session.flush()
        token = await issue_access_token(
            KeyRing(db.app_sessions, settings.secret_key), user.id, tenant.id, ["learner"], 3600
        )
        return f"{slug}.{BASE_DOMAIN}", token
    finally:
        await db.dispose()


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(settings: Settings, port: int, profile_cache_seconds: float) -> Iterator[None]:
    env = dict(os.environ)
    env.update(
        PROFILE_CACHE_SECONDS=str(profile_cache_seconds),
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        PUBLIC_BASE_DOMAIN=BASE_DOMAIN,
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
    )
    command = [sys.executable, "-m", "uvicorn", "lms.app:create_served_app", "--factory", "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the API did not start")
        yield
    finally:
        process.terminate()
        process.wait(20)


async def _one_connection(port: int, request: bytes, stop_at: float, expect: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.monotonic() < stop_at:
            writer.write(request)
            status_line = await reader.readline()
            if expect not in status_line:
                raise RuntimeError(f"unexpected answer: {status_line!r}")
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
    return done


async def measure(port: int, request: bytes, seconds: float, connections: int) -> float:
    stop_at = time.monotonic() + seconds
    started = time.monotonic()
    counts = await asyncio.gather(*(_one_connection(port, request, stop_at, b" 200 ") for _ in range(connections)))
    return sum(counts) / (time.monotonic() - started)


def request_bytes(path: str, host: str, token: str | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def run(port: int, host: str, token: str, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    bare = request_bytes("/health", host)
    authed = request_bytes("/api/v1/me", host, token)
    # Warm both paths (connection pools, key ring, tenant cache, code paths).
    await measure(port, bare, 1.0, args.connections)
    await measure(port, authed, 1.0, args.connections)
    health, me = [], []
    for _ in range(args.rounds):
        health.append(await measure(port, bare, args.seconds, args.connections))
        me.append(await measure(port, authed, args.seconds, args.connections))
    return health, me


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url or not settings.redis_url:
        settings, services = start_embedded(settings)
    try:
        with scratch_database(settings, prefix="lms_bench") as db_settings:
            migrate(db_settings)
            host, token = asyncio.run(arrange(replace(db_settings, public_base_domain=BASE_DOMAIN)))
            port = free_port()
            with api_server(db_settings, port, profile_cache_seconds=10):
                health, me = asyncio.run(run(port, host, token, args))
            port = free_port()
            with api_server(db_settings, port, profile_cache_seconds=0):
                health_uncached, me_uncached = asyncio.run(run(port, host, token, args))
    finally:
        services.stop()
    print(
        f"connections={args.connections}, {args.rounds} alternating rounds x {args.seconds:.0f}s per route, one worker"
    )
    ratio = report("GET /api/v1/me (host, JWT, tenant binding)", health, me)
    print("  with PROFILE_CACHE_SECONDS=0 (the profile read from PostgreSQL under RLS on every request):")
    report("GET /api/v1/me (+ database read)", health_uncached, me_uncached)
    verdict = "meets" if ratio >= args.target else "misses"
    print(f"ratio /me : /health = {ratio:.2f}  ({verdict} the target of {args.target:.2f})")
    return 0 if ratio >= args.target else 1


def report(label: str, health: list[float], me: list[float]) -> float:
    """Print both routes; the ratio is the median of per-round ratios (rounds are paired in time)."""
    ratio = statistics.median(m / h for h, m in zip(health, me, strict=True))
    print(f"  GET /health{'':34}{statistics.median(health):9.0f} req/s  (rounds: {_rounds(health)})")
    print(f"  {label:<45}{statistics.median(me):9.0f} req/s  (rounds: {_rounds(me)})  ratio {ratio:.2f}")
    return ratio


def _rounds(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
