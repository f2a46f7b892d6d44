"""A new user's first command: `lms serve --demo` with nothing configured reaches the demo tenant,
keeps its processes running, and stopping it stops everything it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from lms.config import PROJECT_ROOT
from tests.support import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    metrics_port: int

    @property
    def log(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")

    def get(self, path: str, host: str = "demo.localhost") -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", headers={"Host": f"{host}:{self.port}"})

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.get("/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"lms serve did not become ready:\n{self.log}")

    def child(self, marker: str) -> psutil.Process | None:
        """The supervised child whose command line contains `marker` (" api " or "workers.app")."""
        for child in psutil.Process(self.process.pid).children():
            try:
                if marker in " ".join(child.cmdline()) + " ":
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    def started_servers(self) -> list[psutil.Process]:
        """The embedded PostgreSQL and Redis of this data directory still alive."""
        found = []
        for proc in psutil.process_iter(["name", "cmdline"]):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                # PostgreSQL names its data directory on the command line; Redis runs inside it.
                command = " ".join(proc.info["cmdline"] or [])
                ours = (proc.info["name"] == "postgres" and str(self.data_dir) in command) or (
                    proc.info["name"] == "redis-server" and proc.cwd() == str(self.data_dir)
                )
                if ours:
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """`serve(new_session=...)` starts `lms serve --demo` with nothing configured, in a fresh data dir."""
    started: list[Served] = []

    def start(new_session: bool = False) -> Served:
        data_dir = Path(tempfile.mkdtemp(prefix="lms-serve-"))
        data_dir.chmod(0o755)
        port, metrics_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            LMS_DATA_DIR=str(data_dir),
            LOG_FORMAT="console",
            PUBLIC_BASE_DOMAIN="localhost",
            METRICS_PORT=str(metrics_port),
        )
        with (data_dir / "serve.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "lms", "serve", "--demo", "--port", str(port)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=new_session,
            )
        served = Served(process, data_dir, port, metrics_port)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.send_signal(signal.SIGTERM)
            try:
                served.process.wait(60)
            except subprocess.TimeoutExpired:
                served.process.kill()
        shutil.rmtree(served.data_dir, ignore_errors=True)


@pytest.mark.e2e
def test_serve_with_embedded_services_reaches_the_demo_tenant_restarts_a_dead_api_and_stops_on_ctrl_c(
    serve: Callable[..., Served],
) -> None:
    served = serve(new_session=True)
    served.wait_ready()

    home = served.get("/")
    assert home.status_code == 200
    assert "Demo Academy" in home.text

    token = (served.data_dir / "operator-token").read_text().strip()
    tenants = httpx.get(
        f"http://127.0.0.1:{served.port}/api/v1/operator/tenants", headers={"Authorization": f"Bearer {token}"}
    )
    assert [t["slug"] for t in tenants.json()["items"]] == ["demo"]

    # Metrics: on the internal listener (loopback), never on the public one.
    assert served.get("/metrics").status_code == 404
    assert served.get("/metrics", host="evil.example.com").status_code == 404
    metrics = httpx.get(f"http://127.0.0.1:{served.metrics_port}/metrics")
    assert metrics.status_code == 200
    assert 'tenant="demo"' in metrics.text

    # An API that dies is started again; the worker is never orphaned nor replaced.
    api, worker = served.child(" api "), served.child("workers.app")
    assert api is not None
    assert worker is not None
    api.kill()
    wait_until(lambda: (c := served.child(" api ")) is not None and c.pid != api.pid, timeout=30)
    served.wait_ready(timeout=60)
    assert served.child("workers.app") == worker

    # Ctrl-C in the terminal stops everything it started.
    stops_everything(served, ctrl_c)


def ctrl_c(served: Served) -> None:
    """What Ctrl-C in a terminal does: SIGINT to every process of the foreground group at once (`lms
    serve` handles SIGTERM, as a service manager sends it, and SIGHUP the same way)."""
    os.killpg(served.process.pid, signal.SIGINT)


def stops_everything(served: Served, stop: Callable[[Served], None]) -> None:
    api, worker = served.child(" api "), served.child("workers.app")
    assert api is not None, served.log
    assert worker is not None, served.log
    servers = served.started_servers()
    assert {"postgres", "redis-server"} <= {p.name() for p in servers}, served.log

    stop(served)
    served.process.wait(90)

    assert served.process.returncode == 0, served.log
    for child in (api, worker):
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child
    assert served.started_servers() == [], "embedded services were left running"
    assert not (served.data_dir / "postgres" / "postmaster.pid").exists()
