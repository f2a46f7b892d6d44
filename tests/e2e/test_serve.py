"""A new user's first command: `lms serve --demo` with nothing configured reaches the demo tenant."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from lms.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
def test_serve_with_embedded_services_reaches_the_demo_tenant() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="lms-serve-"))
    data_dir.chmod(0o755)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(LMS_DATA_DIR=str(data_dir), LOG_FORMAT="console", PUBLIC_BASE_DOMAIN="localhost")
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lms", "serve", "--demo", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            ready = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/ready", headers={"Host": f"demo.localhost:{port}"})
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            assert ready is not None, log.read_text()
            assert ready.status_code == 200, log.read_text()

            home = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": f"demo.localhost:{port}"})
            assert home.status_code == 200
            assert "Demo Academy" in home.text

            token = (data_dir / "operator-token").read_text().strip()
            tenants = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/operator/tenants", headers={"Authorization": f"Bearer {token}"}
            )
            assert [t["slug"] for t in tenants.json()["items"]] == ["demo"]
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    assert process.returncode is not None
    postmaster = data_dir / "postgres" / "postmaster.pid"
    assert not postmaster.exists(), "embedded PostgreSQL was left running"
