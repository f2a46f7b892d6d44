"""The container image builds and runs: `make image` builds it with buildah (chroot isolation, a base
from Debian packages when no registry answers), migrates a PostgreSQL of this machine from inside it,
starts the API and gets 200 from /ready. Slow: runs only where buildah is installed."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lms.config import PROJECT_ROOT, Settings

pytestmark = pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")


def test_the_image_builds_migrates_and_answers_ready(settings: Settings) -> None:
    if "@127.0.0.1" not in (settings.database_url or "") or not (settings.redis_url or "").startswith("redis://"):
        pytest.skip("the image reaches PostgreSQL and Redis over TCP (the embedded servers use Unix sockets)")
    admin = (settings.database_url or "").rsplit("/", 1)[0] + "/postgres"
    env = {
        **os.environ,
        "SMOKE_DATABASE_URL": admin,
        "SMOKE_REDIS_URL": settings.redis_url or "",
        "TAG": "test",
        "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        ["./scripts/build-image.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "/ready answered 200" in result.stdout
