"""Media test fixtures: generated sources, a tenant reachable on a loopback address, a live server,
and a video uploaded through the chunked API (with one interrupted part) and transcoded by a worker."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.tenancy.models import Plan, Tenant
from lms.tenancy.services import Actor, TenantAdmin
from tests import factories
from tests.support import celery_worker

# The media site answers on its own loopback address, so ffprobe and Chromium reach it by IP.
MEDIA_HOST = "127.0.0.7"
PART_SIZE = 256 * 1024


def generate_video(path: Path, seconds: float, size: str, *, audio: bool = True, faststart: bool = False) -> Path:
    """A test pattern with a sine tone, encoded quickly with FFmpeg."""
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if faststart:
        command += ["-movflags", "+faststart"]
    subprocess.run([*command, str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def media_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("media-sources")
    generate_video(directory / "lecture.mp4", 14, "854x480")  # two rungs: 360p and 480p
    generate_video(directory / "lecture-360p.mp4", 14, "640x360")  # one rung, for stories that only play it
    generate_video(directory / "short.mp4", 4, "320x180")
    return directory


@dataclass
class MediaSite:
    tenant: Tenant
    instructor: User
    learner: User
    staff_headers: dict[str, str]
    learner_headers: dict[str, str]
    key_ring: KeyRing
    base_url: str = f"http://{MEDIA_HOST}"
    extra: dict[str, Any] = field(default_factory=dict)

    async def token_for(self, user: User) -> str:
        return await issue_access_token(self.key_ring, user.id, user.tenant_id, list(user.roles), 3600)


@pytest.fixture(scope="session")
async def media_site(db: Database, settings: Settings, key_ring: KeyRing) -> MediaSite:
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), settings.public_base_domain)
        tenant = await admin.create(f"media-{uuid.uuid4().hex[:6]}", "Media Academy", Plan.ENTERPRISE, 10, None)
        await admin.add_domain(tenant.id, MEDIA_HOST, primary=False)
        await admin.verify_domain(tenant.id, MEDIA_HOST)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        instructor = await factories.identity.make_user(session, tenant.id, roles=["instructor"])
        learner = await factories.identity.make_user(session, tenant.id, roles=["learner"])
    site = MediaSite(tenant, instructor, learner, {}, {}, key_ring)
    site.staff_headers = {"Authorization": f"Bearer {await site.token_for(instructor)}"}
    site.learner_headers = {"Authorization": f"Bearer {await site.token_for(learner)}"}
    return site


class SiteClient:
    """The session's test client, addressing the media site's host for relative URLs."""

    def __init__(self, client: AsyncTestClient[Litestar], base_url: str) -> None:
        self.client = client
        self.base_url = base_url

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        absolute = url if url.startswith("http") else self.base_url + url
        return await self.client.request(method, absolute, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)


@pytest.fixture(scope="session")
def media_client(client: AsyncTestClient[Litestar]) -> SiteClient:
    # One test client (one app lifespan) for the whole run; this one only changes the host.
    return SiteClient(client, f"http://{MEDIA_HOST}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((MEDIA_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def media_live_server(settings: Settings) -> Iterator[str]:
    """The app served over real HTTP (own thread and loop) for ffprobe and the browser."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=MEDIA_HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield f"http://{MEDIA_HOST}:{port}"
    server.should_exit = True
    thread.join(10)


async def start_upload(client: SiteClient, headers: dict[str, str], name: str, size: int, **extra: Any) -> Any:
    body = {"title": name.rsplit(".", 1)[0].title(), "filename": name, "size_bytes": size}
    body.update(extra)
    response = await client.post("/api/v1/media/uploads", json={"part_size": PART_SIZE, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def send_parts(client: SiteClient, headers: dict[str, str], upload: dict[str, Any], data: bytes) -> None:
    for part in upload["missing_parts"]:
        start = (part["number"] - 1) * upload["part_size"]
        response = await client.put(part["url"], content=data[start : start + part["size"]], headers=headers)
        assert response.status_code == 201 or response.status_code == 200, response.text


async def wait_for_asset(
    client: SiteClient, headers: dict[str, str], asset_id: str, statuses: set[str], timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        asset: dict[str, Any] = (await client.get(f"/api/v1/media/assets/{asset_id}", headers=headers)).json()
        if asset["status"] in statuses:
            return asset
        if time.monotonic() > deadline:
            raise AssertionError(f"asset still {asset['status']} after {timeout}s: {asset}")
        await asyncio.sleep(0.25)


@dataclass
class UploadedVideo:
    asset_id: str
    after_interruption: dict[str, Any]
    asset: dict[str, Any]
    source: Path


@pytest.fixture(scope="module")
def media_worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A worker for one module only: later modules that fold progress themselves find none running."""
    with celery_worker(settings, tmp_path_factory.mktemp("media-worker") / "worker.log") as process:
        yield process


@pytest.fixture(scope="session")
async def ready_video(
    media_client: SiteClient,
    media_site: MediaSite,
    media_sources: Path,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> UploadedVideo:
    """The lecture uploaded in parts — part 2 is cut off mid-way and resent — then transcoded by a
    worker that runs only for this."""
    with celery_worker(settings, tmp_path_factory.mktemp("ready-video-worker") / "worker.log"):
        return await _upload_lecture(media_client, media_site, media_sources)


async def _upload_lecture(media_client: SiteClient, media_site: MediaSite, media_sources: Path) -> UploadedVideo:
    source = media_sources / "lecture.mp4"
    data = source.read_bytes()
    headers = media_site.staff_headers
    upload = await start_upload(media_client, headers, source.name, len(data))
    first = upload["missing_parts"][0]
    await media_client.put(first["url"], content=data[: first["size"]], headers=headers)
    second = upload["missing_parts"][1]
    cut = data[PART_SIZE : PART_SIZE + second["size"] // 3]
    dropped = await media_client.put(second["url"], content=cut, headers=headers)
    assert dropped.status_code == 422
    # The client comes back later, asks what the server has, and sends only the rest.
    status = (await media_client.get(f"/api/v1/media/uploads/{upload['id']}", headers=headers)).json()
    await send_parts(media_client, headers, status, data)
    completed = await media_client.post(f"/api/v1/media/uploads/{upload['id']}/complete", headers=headers)
    assert completed.status_code == 202, completed.text
    asset = await wait_for_asset(media_client, headers, upload["asset_id"], {"ready", "failed"})
    return UploadedVideo(upload["asset_id"], status, asset, source)
