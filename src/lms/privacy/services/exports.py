"""A person's data as JSON in a zip: requested by an admin, built by a background job, fetched
through a short-lived signed link. Requests and downloads are audited."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any
from uuid import UUID

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.queries import attempt_records_of_user, submission_records_of_user
from lms.certificates.queries import certificate_records_of_user
from lms.discussions.queries import post_records_of_author
from lms.identity.queries import profile_record, user_contact
from lms.learning.queries import enrolment_records_of_user, progress_records_of_user
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound
from lms.lib.faults import is_transient
from lms.lib.ids import new_id
from lms.lib.jobs import enqueue_after_commit
from lms.lib.storage import ObjectMissing, Storage
from lms.privacy.models import Erasure, ExportStatus, PersonalDataExport
from lms.privacy.tasks import EXPORT_TASK
from lms.tenancy.queries import audit_records_about_user
from lms.tenancy.services.audit import AdminAudit

# The zip's one file, and the sections it always has (an empty list when there is nothing).
EXPORT_FILE_NAME = "personal-data.json"
SECTIONS = (
    "profile",
    "enrolments",
    "progress",
    "quiz_attempts",
    "submissions",
    "certificates",
    "discussion_posts",
    "audit_entries",
)
# A finished export's file can be downloaded this long; after that a new export is needed.
KEEP_FOR = timedelta(days=7)
LISTED = 20


def export_key(tenant_id: UUID, user_id: UUID, export_id: UUID) -> str:
    return f"t/{tenant_id}/privacy/{user_id}/{export_id}.zip"


def user_prefix(tenant_id: UUID, user_id: UUID) -> str:
    return f"t/{tenant_id}/privacy/{user_id}/"


def is_downloadable(export: PersonalDataExport) -> bool:
    return (
        export.status == ExportStatus.READY.value
        and export.file_key is not None
        and export.finished_at is not None
        and export.finished_at > clock.now() - KEEP_FOR
    )


async def personal_data(session: AsyncSession, user_id: UUID) -> dict[str, Any]:
    """Every section of a person's data, each read through its own domain's queries."""
    return {
        "profile": await profile_record(session, user_id),
        "enrolments": await enrolment_records_of_user(session, user_id),
        "progress": await progress_records_of_user(session, user_id),
        "quiz_attempts": await attempt_records_of_user(session, user_id),
        "submissions": await submission_records_of_user(session, user_id),
        "certificates": await certificate_records_of_user(session, user_id),
        "discussion_posts": await post_records_of_author(session, user_id),
        "audit_entries": await audit_records_about_user(session, user_id),
    }


def zipped(document: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        archive.writestr(EXPORT_FILE_NAME, text)
    return out.getvalue()


class PersonalDataExports:
    """The bound tenant's exports (the session is RLS-bound to it)."""

    def __init__(self, session: AsyncSession, tenant_id: UUID, storage: Storage, audit: AdminAudit) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.storage = storage
        self.audit = audit

    async def request(self, user_id: UUID) -> PersonalDataExport:
        """Queue an export; while one for the person is still queued, that one is the answer."""
        contact = await user_contact(self.session, user_id)
        if contact is None:
            raise NotFound("user not found", field="user_id")
        if await self.session.scalar(select(func.count()).where(Erasure.user_id == user_id)):
            raise Conflict("this person's data was erased; there is nothing left to export", field="user_id")
        queued = await self.session.scalar(
            select(PersonalDataExport).where(
                PersonalDataExport.user_id == user_id, PersonalDataExport.status == ExportStatus.QUEUED.value
            )
        )
        if queued is not None:
            return queued
        export = PersonalDataExport(
            id=new_id(), tenant_id=self.tenant_id, user_id=user_id, requested_by=self.audit.actor.user_id
        )
        self.session.add(export)
        await self.session.flush()
        await self.audit.record("user.personal_data_export_requested", "user", user_id, contact.email)
        enqueue_after_commit(self.session, EXPORT_TASK, str(self.tenant_id), str(export.id))
        return export

    async def of_user(self, user_id: UUID, limit: int = LISTED) -> list[PersonalDataExport]:
        """The person's latest exports, newest first (404 for a person not in this tenant)."""
        if await user_contact(self.session, user_id) is None:
            raise NotFound("user not found", field="user_id")
        query = (
            select(PersonalDataExport)
            .where(PersonalDataExport.user_id == user_id)
            .order_by(PersonalDataExport.created_at.desc(), PersonalDataExport.id.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(query))

    async def get(self, export_id: UUID, user_id: UUID | None = None) -> PersonalDataExport:
        export = await self.session.scalar(select(PersonalDataExport).where(PersonalDataExport.id == export_id))
        if export is None or (user_id is not None and export.user_id != user_id):
            raise NotFound("export not found", field="export_id")
        return export

    async def download(self, export_id: UUID) -> tuple[PersonalDataExport, bytes]:
        """The zip of a finished export; the download is audited."""
        export = await self.get(export_id)
        if not is_downloadable(export) or export.file_key is None:
            raise NotFound("this export is not ready or has expired", field="export_id")
        try:
            data: bytes = await anyio.to_thread.run_sync(self.storage.get_bytes, export.file_key)
        except ObjectMissing as exc:
            raise NotFound("this export is not ready or has expired", field="export_id") from exc
        contact = await user_contact(self.session, export.user_id)
        await self.audit.record(
            "user.personal_data_downloaded", "user", export.user_id, contact.email if contact else None
        )
        return export, data


async def build_export(session: AsyncSession, tenant_id: UUID, export_id: UUID, storage: Storage) -> str:
    """The job: collect the sections, write the zip under a key fixed by the export's id (a retry
    overwrites the same object), mark the export ready. Idempotent: a finished export is left alone."""
    export = await session.scalar(select(PersonalDataExport).where(PersonalDataExport.id == export_id))
    if export is None or export.status != ExportStatus.QUEUED.value:
        return "nothing to do"
    key = export_key(tenant_id, export.user_id, export.id)
    try:
        document = {
            "format": "lms-personal-data/1",
            "exported_at": clock.now().isoformat(),
            "user_id": str(export.user_id),
            **await personal_data(session, export.user_id),
        }
        data = zipped(document)
        await anyio.to_thread.run_sync(storage.put_bytes, key, data, "application/zip")
    except Exception as exc:
        if is_transient(exc):
            raise
        export.status = ExportStatus.FAILED.value
        export.failure = f"{type(exc).__name__}: {exc}"[:500]
        export.finished_at = clock.now()
        await session.flush()
        return export.status
    export.status = ExportStatus.READY.value
    export.file_key = key
    export.file_size = len(data)
    export.finished_at = clock.now()
    await session.flush()
    return export.status


async def purge_expired_exports(session: AsyncSession, storage: Storage) -> int:
    """Delete the bound tenant's export files past KEEP_FOR, and their rows (the audit log keeps the
    history). Idempotent: a missing file is fine, and a purged export is gone."""
    expired = list(
        await session.scalars(
            select(PersonalDataExport)
            .where(PersonalDataExport.finished_at < clock.now() - KEEP_FOR)
            .with_for_update(skip_locked=True)
        )
    )
    for export in expired:
        if export.file_key:
            await anyio.to_thread.run_sync(storage.delete, export.file_key)
        await session.delete(export)
    await session.flush()
    return len(expired)
