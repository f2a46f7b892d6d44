"""While an uploaded file travels to storage, no database connection of the app idles in transaction
(the connection goes back to the pool first): assignment files and video parts alike. The storage is
the real one; a thin wrapper looks at pg_stat_activity at the moment each file is written."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import psycopg
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.app import create_app
from lms.assessments.assignments import controllers as assignment_controllers
from lms.assessments.assignments.services.assignments import AssignmentService, Upload
from lms.assessments.assignments.services.storage import SharedObjectStore
from lms.assessments.models import SubmissionVersion
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.guards import Principal
from lms.lib.storage import Storage, storage_for
from lms.media.services import UploadService
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.assignments.test_assignments import build_assignment, student_of
from tests.media_fixtures import MediaSite, SiteClient, start_upload

FIVE_MIB = 5 * 1024 * 1024
IDLE_IN_TRANSACTION = (
    "select count(*) from pg_stat_activity where datname = current_database()"
    " and usename = 'lms_app' and state like 'idle in transaction%'"
)


class ObservedStorage:
    """The real storage; each write first records how many app connections idle in transaction."""

    def __init__(self, storage: Storage, admin_url: str) -> None:
        self.storage = storage
        self.admin_url = admin_url
        self.idle_in_transaction: list[int] = []

    def _observe(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute(IDLE_IN_TRANSACTION).fetchone()
            self.idle_in_transaction.append(int(row[0]) if row else -1)

    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        self._observe()
        self.storage.put_stream(key, stream, content_type)

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> Any:
        self._observe()
        return self.storage.upload_part(key, upload_id, number, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


@pytest.fixture
def observed(settings: Settings) -> ObservedStorage:
    return ObservedStorage(storage_for(settings), settings.database_url or "")


async def test_assignment_files_are_stored_with_no_connection_in_transaction(
    client: AsyncTestClient[Litestar],
    db: Database,
    observed: ObservedStorage,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant()
    course, assignment_id, _ = await build_assignment(client, make_user, login, tenant)
    user, _ = await student_of(client, make_user, login, tenant, course)
    principal = Principal(user_id=user.id, tenant_id=tenant.id, roles=frozenset({"learner"}))
    files = [
        Upload.of_bytes("report.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 200_000),
        Upload.of_bytes("b.pdf", "x", b"%PDF"),
    ]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        service = AssignmentService(session, principal, SharedObjectStore(observed))  # type: ignore[arg-type]
        submission, created = await service.submit(UUID(assignment_id), None, None, files)
    assert created
    assert submission.version == 1
    assert observed.idle_in_transaction == [0, 0]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = await AssignmentService(session, principal, SharedObjectStore(observed)).store.get(
            (await _version_files(session, submission.id))[0]["key"]
        )
    assert stored.startswith(b"%PDF-1.4 x")


async def test_video_parts_are_stored_with_no_connection_in_transaction(
    media_site: MediaSite, media_client: SiteClient, db: Database, settings: Settings, observed: ObservedStorage
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: one part
    upload = await start_upload(media_client, media_site.staff_headers, "clip.mp4", len(data))
    async with tenant_session(db.app_sessions, media_site.tenant.id) as session:
        service = UploadService(session, observed, settings, media_site.tenant.id)  # type: ignore[arg-type]
        _, received = await service.put_part(UUID(upload["id"]), 1, data[: upload["part_size"]])
    assert received.get(1) == min(len(data), upload["part_size"])
    assert observed.idle_in_transaction == [0]


async def _version_files(session: AsyncSession, submission_id: UUID) -> list[dict[str, Any]]:
    version = (
        await session.execute(select(SubmissionVersion).where(SubmissionVersion.submission_id == submission_id))
    ).scalar_one()
    return list(version.files)


class HeldStorage(ObservedStorage):
    """The real storage, whose file writes wait (in the worker thread that runs them) until released."""

    def __init__(self, storage: Storage, admin_url: str) -> None:
        super().__init__(storage, admin_url)
        self.writing = threading.Event()
        self.release = threading.Event()

    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        self._observe()
        self.writing.set()
        self.release.wait(30)
        self.storage.put_stream(key, stream, content_type)


@pytest.fixture
def live_api(settings: Settings) -> Iterator[tuple[str, Litestar]]:
    """The app over real HTTP on its own thread and event loop, as uvicorn serves it."""
    app = create_app(settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


async def test_a_5_mib_upload_holds_no_connection_and_does_not_block_other_requests(
    client: AsyncTestClient[Litestar],
    live_api: tuple[str, Litestar],
    settings: Settings,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = HeldStorage(storage_for(settings), settings.database_url or "")
    monkeypatch.setattr(assignment_controllers, "submission_store", lambda _settings: SharedObjectStore(held))
    tenant = await make_tenant()
    course, assignment_id, _ = await build_assignment(client, make_user, login, tenant, max_file_bytes=FIVE_MIB)
    _, student = await student_of(client, make_user, login, tenant, course)
    payload = b"%PDF-1.4 " + os.urandom(FIVE_MIB - 9)
    base_url, app = live_api
    host = {"host": urlsplit(course.base).netloc}
    async with httpx.AsyncClient(base_url=base_url, headers=host, timeout=60) as live:
        upload = asyncio.create_task(
            live.post(
                f"/api/v1/assignments/{assignment_id}/submissions",
                files=[("files", ("big.pdf", payload, "application/pdf"))],
                headers=student,
            )
        )
        try:
            assert await asyncio.to_thread(held.writing.wait, 30), "the file never reached storage"
            # The file is in storage's hands: another request is answered meanwhile (the loop is free) ...
            started = time.monotonic()
            me = await live.get("/api/v1/me", headers=student)
            assert me.status_code == 200, me.text
            assert time.monotonic() - started < 5
            assert not upload.done()
            # ... and the upload holds no database connection: none checked out, none idle in transaction.
            assert app.state.db.app_engine.pool.checkedout() == 0
            assert held.idle_in_transaction == [0]
        finally:
            held.release.set()
        response = await upload
        assert response.status_code == 201, response.text
        stored = response.json()["versions"][0]["files"][0]
        assert stored["size"] == FIVE_MIB
        downloaded = await live.get(stored["url"], headers=student)
    assert downloaded.status_code == 200
    assert downloaded.content == payload


async def test_an_upload_holds_no_connection_while_its_body_arrives_and_others_are_served(
    client: AsyncTestClient[Litestar],
    live_api: tuple[str, Litestar],
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    tenant = await make_tenant()
    course, assignment_id, _ = await build_assignment(client, make_user, login, tenant, max_file_bytes=FIVE_MIB)
    _, student = await student_of(client, make_user, login, tenant, course)
    payload = b"%PDF-1.4 " + os.urandom(FIVE_MIB - 9)
    boundary = "upload-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    base_url, app = live_api
    netloc = urlsplit(course.base).netloc
    head = [
        f"POST /api/v1/assignments/{assignment_id}/submissions HTTP/1.1",
        f"Host: {netloc}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in student.items()),
    ]
    port = urlsplit(base_url).port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # Half the body, then a pause: the server has read and parsed what came and waits for the rest.
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
        await writer.drain()
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(base_url=base_url, headers={"host": netloc}, timeout=30) as live:
            started = time.monotonic()
            me = await live.get("/api/v1/me", headers=student)
            assert me.status_code == 200, me.text
            assert time.monotonic() - started < 5
            # The upload in progress holds no database connection while its body arrives.
            assert app.state.db.app_engine.pool.checkedout() == 0
            writer.write(body[len(body) // 2 :])
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 60)
            status_line, _, rest = answer.partition(b"\r\n")
            assert status_line.split()[1] == b"201", answer[:500]
            stored = json.loads(rest.partition(b"\r\n\r\n")[2])["versions"][0]["files"][0]
            assert stored["size"] == FIVE_MIB
            downloaded = await live.get(stored["url"], headers=student)
        assert downloaded.content == payload
    finally:
        writer.close()
