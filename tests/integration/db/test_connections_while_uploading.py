"""While an uploaded file travels to storage, no database connection of the app idles in transaction
(the connection goes back to the pool first): assignment files and video parts alike. The storage is
the real one; a thin wrapper looks at pg_stat_activity at the moment each file is written."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.assignments.services.assignments import AssignmentService, Upload
from lms.assessments.assignments.services.storage import SharedObjectStore
from lms.assessments.models import SubmissionVersion
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.principal import Principal
from lms.lib.storage import Storage, storage_for
from lms.media.services import UploadService
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.assessments.assignments.test_assignments import build_assignment, student_of
from tests.media_fixtures import MediaSite, SiteClient, start_upload

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

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._observe()
        self.storage.put_bytes(key, data, content_type)

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
    files = [Upload("report.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 200_000), Upload("b.pdf", "x", b"%PDF")]
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
