"""Bulk user import: upload, column mapping, dry-run preview, apply; inline for small files, as a
background job with progress for large ones; a downloadable problem report; CSV export of users.

Preview and apply parse and check the file in one streaming pass, COPY the rows into a staging table
on the session's own tenant-bound connection and match them with a few set-based statements under the
tenant's RLS, inside a savepoint. The apply then writes (set-based upserts); the preview counts what
those writes would change under the same conditions and rolls the savepoint back, so its numbers are
what applying gives.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import anyio.to_thread
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.compliance.services import schedule_sync
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.identity.accounts.services.bulk import BulkOutcome, RowProblem, StagedRow, apply_staged, stage_rows
from lms.identity.accounts.services.directory import UserDirectory, UserFilters
from lms.identity.accounts.services.invitations import send_pending_invitations
from lms.identity.accounts.services.onboarding import tenant_site_url
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.lib.ids import new_id
from lms.lib.jobs import enqueue_after_commit
from lms.lib.pagination import Page, PageParams, paginate
from lms.lib.spreadsheet import safe_cell
from lms.lib.storage import Storage
from lms.organisation.models import ImportStatus, UserImport
from lms.organisation.services.csv_rows import (
    RowReader,
    UnreadableFile,
    check_mapping,
    read_headers,
    suggest_mapping,
)
from lms.organisation.services.groups import Groups
from lms.organisation.services.workbooks import is_workbook, workbook_as_csv
from lms.organisation.tasks import IMPORT_TASK, INVITATIONS_TASK
from lms.tenancy.queries import tenant_profile
from lms.tenancy.services.audit import AdminAudit, AuditActor

MAX_FILE_BYTES = 64 * 1024 * 1024
# Files up to this size are previewed and applied within the request; larger ones by a job.
INLINE_MAX_BYTES = 256 * 1024
PROBLEMS_SHOWN = 200
PROGRESS_EVERY_ROWS = 10_000
# Invitations from an import go out at most this many per minute per tenant.
INVITATIONS_PER_MINUTE = 200

ProgressReport = Callable[[int], Awaitable[None]]


def file_key(tenant_id: UUID, import_id: UUID) -> str:
    return f"t/{tenant_id}/imports/{import_id}/upload.csv"


def report_key(tenant_id: UUID, import_id: UUID) -> str:
    return f"t/{tenant_id}/imports/{import_id}/problems.csv"


def problems_csv(problems: list[RowProblem]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "reason"])
    for p in problems:
        writer.writerow([p.row_no, safe_cell(p.column), safe_cell(p.reason)])
    return out.getvalue().encode("utf-8")


def outcome_result(outcome: BulkOutcome) -> dict[str, Any]:
    return {
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "deactivated": outcome.deactivated,
        "accounts_after": outcome.accounts_after,
        "seats": outcome.seats,
        "over_seats": outcome.over_seats,
    }


async def _async_rows(
    rows: Iterator[StagedRow], report: ProgressReport | None, size: int, stream: IO[bytes]
) -> AsyncIterator[StagedRow]:
    """Rows for COPY, with a progress report every PROGRESS_EVERY_ROWS (parsing is 0-70 %)."""
    for count, row in enumerate(rows, start=1):
        yield row
        if report is not None and count % PROGRESS_EVERY_ROWS == 0:
            await report(min(70, int(70 * stream.tell() / max(size, 1))))


class UserImports:
    """The bound tenant's imports (the session is RLS-bound to it)."""

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        settings: Settings,
        storage: Storage,
        audit: AdminAudit | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.settings = settings
        self.storage = storage
        # Where an applied import is recorded (one summary entry per import).
        self.audit = audit

    async def get(self, import_id: UUID) -> UserImport:
        found = await self.session.get(UserImport, import_id)
        if found is None:
            raise NotFound("import not found")
        return found

    async def list(self, page: PageParams) -> Page[UserImport]:
        return await paginate(self.session, select(UserImport).order_by(UserImport.created_at.desc()), page)

    async def upload(self, name: str, stream: IO[bytes], size: int, created_by: UUID) -> UserImport:
        """Store the file and read its header row; the mapping is suggested from the column names."""
        if size > MAX_FILE_BYTES:
            raise ValidationFailed("the file is larger than 64 MiB", field="file")
        if size == 0:
            raise ValidationFailed("the file is empty", field="file")
        if is_workbook(stream):
            try:
                stream, size = await anyio.to_thread.run_sync(workbook_as_csv, stream, MAX_FILE_BYTES)
            except UnreadableFile as exc:
                raise ValidationFailed(str(exc), field="file") from exc
        try:
            headers = read_headers(stream)
        except UnreadableFile as exc:
            raise ValidationFailed(str(exc), field="file") from exc
        stream.seek(0)
        import_id = new_id()
        key = file_key(self.tenant_id, import_id)
        await anyio.to_thread.run_sync(self.storage.put_stream, key, stream, "text/csv")
        record = UserImport(
            id=import_id,
            tenant_id=self.tenant_id,
            created_by=created_by,
            file_name=(name or "users.csv")[:255],
            file_key=key,
            file_size=size,
            headers=headers,
            mapping=suggest_mapping(headers),
        )
        self.session.add(record)
        await self.session.flush()
        return record

    async def configure(
        self, import_id: UUID, mapping: dict[str, str], deactivate_missing: bool, send_invitations: bool
    ) -> UserImport:
        record = await self.get(import_id)
        self._editable(record)
        mapping = {k: v for k, v in mapping.items() if v}
        errors = check_mapping(mapping, list(record.headers))
        if errors:
            field, message = next(iter(errors.items()))
            raise ValidationFailed(message, field=f"mapping.{field}")
        record.mapping = mapping
        record.deactivate_missing = deactivate_missing
        record.send_invitations = send_invitations
        # A changed mapping makes an earlier preview stale.
        record.status = ImportStatus.UPLOADED.value
        record.result, record.problems, record.error_count = {}, [], 0
        await self.session.flush()
        return record

    async def start(self, import_id: UUID, acting_user_id: UUID, *, apply: bool) -> UserImport:
        """Preview (dry run) or apply: inline for a small file, else queued for the worker (202)."""
        record = await self.get(import_id)
        self._editable(record)
        errors = check_mapping(dict(record.mapping), list(record.headers))
        if errors:
            field, message = next(iter(errors.items()))
            raise ValidationFailed(message, field=f"mapping.{field}")
        if apply and record.status != ImportStatus.PREVIEWED.value:
            raise Conflict("preview the import before applying it", field="status")
        record.status = (ImportStatus.APPLYING if apply else ImportStatus.PREVIEWING).value
        record.progress = 0
        record.failure = None
        await self.session.flush()
        if record.file_size <= INLINE_MAX_BYTES:
            await self.run(record, acting_user_id)
        else:
            enqueue_after_commit(self.session, IMPORT_TASK, str(self.tenant_id), str(record.id))
        return record

    def _editable(self, record: UserImport) -> None:
        if record.status in (ImportStatus.APPLIED.value, ImportStatus.APPLYING.value, ImportStatus.PREVIEWING.value):
            raise Conflict("this import is running or already applied; upload the file again", field="status")

    async def run(self, record: UserImport, acting_user_id: UUID | None, report: ProgressReport | None = None) -> None:
        """Parse, stage and upsert in a savepoint (a preview only counts); roll it back for a preview (or
        when seats would be exceeded), keep it for an apply. The import row is written after, in the outer
        transaction; an applied import's changes to people commit with the caller's transaction."""
        apply = record.status == ImportStatus.APPLYING.value
        with tempfile.TemporaryDirectory(prefix="lms-import-") as folder:
            path = Path(folder) / "upload.csv"
            await anyio.to_thread.run_sync(self.storage.download, record.file_key, path)
            reader = RowReader(dict(record.mapping))
            failure: str | None = None
            with path.open("rb") as stream:
                savepoint = await self.session.begin_nested()
                try:
                    rows = _async_rows(reader.rows(stream), report, record.file_size, stream)
                    staged = await stage_rows(self.session, rows)
                    if report is not None:
                        await report(75)
                    outcome = await apply_staged(
                        self.session,
                        self.tenant_id,
                        staged=staged,
                        dry_run=not apply,
                        invite=record.send_invitations,
                        deactivate_missing=record.deactivate_missing,
                        acting_user_id=acting_user_id or record.created_by,
                        progress=report,
                    )
                    if apply:
                        # Dynamic groups follow the attributes the file brought.
                        await Groups(self.session, self.tenant_id).apply_rules()
                except UnreadableFile as exc:
                    await savepoint.rollback()
                    failure, outcome = str(exc), BulkOutcome()
                else:
                    if apply and outcome.over_seats:
                        failure = (
                            f"this import needs {outcome.accounts_after} seats and the site has {outcome.seats}; "
                            "nothing was changed"
                        )
                    if apply and failure is None:
                        await savepoint.commit()
                    else:
                        await savepoint.rollback()
        # Problems found by the database name fields; the admin knows the file's column names.
        mapping = dict(record.mapping)
        found = [RowProblem(p.row_no, mapping.get(p.column, p.column), p.reason) for p in outcome.problems]
        problems = sorted(reader.problems + found, key=lambda p: p.row_no)
        key = report_key(self.tenant_id, record.id)
        await anyio.to_thread.run_sync(self.storage.put_bytes, key, problems_csv(problems), "text/csv")
        now = clock.now()
        record.total_rows = reader.rows_read
        record.result = outcome_result(outcome)
        record.error_count = len(problems)
        record.problems = [{"row": p.row_no, "column": p.column, "reason": p.reason} for p in problems[:PROBLEMS_SHOWN]]
        record.report_key = key
        record.progress = 100
        record.failure = failure
        if failure is not None:
            record.status = (
                ImportStatus.FAILED.value if not apply or outcome.seats == 0 else ImportStatus.PREVIEWED.value
            )
            if apply and outcome.over_seats:
                record.status = ImportStatus.PREVIEWED.value
            elif not outcome.seats and failure:
                record.status = ImportStatus.FAILED.value
        elif apply:
            record.status = ImportStatus.APPLIED.value
            record.applied_at = now
            if self.audit is not None:
                summary = {**record.result, "rows": record.total_rows, "problems": record.error_count}
                await self.audit.record("users.imported", "import", record.id, record.file_name, None, summary)
            if record.send_invitations and outcome.created:
                enqueue_after_commit(self.session, INVITATIONS_TASK, str(self.tenant_id), str(record.id))
            if outcome.created or outcome.updated:
                # New people and moved ones get their groups' assigned training as soon as this commits.
                await schedule_sync(self.session, self.tenant_id)
        else:
            record.status = ImportStatus.PREVIEWED.value
            record.previewed_at = now
        await self.session.flush()

    async def problem_report(self, import_id: UUID) -> bytes:
        record = await self.get(import_id)
        if record.report_key is None:
            raise NotFound("this import has not been previewed yet")
        data: bytes = await anyio.to_thread.run_sync(self.storage.get_bytes, record.report_key)
        return data


async def export_users_csv(directory: UserDirectory, filters: UserFilters) -> str:
    """The filtered user list as CSV with the import's columns, formula-safe; 1,000 users a query."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "display_name", "external_id", "roles", "groups", "manager_email", "status", "locale"])
    offset = 0
    while True:
        users, _ = await directory.search(filters, 1000, offset)
        managers = await directory.managers({u.manager_id for u in users if u.manager_id})
        for u in users:
            manager = managers.get(u.manager_id) if u.manager_id else None
            writer.writerow(
                [
                    safe_cell(u.email),
                    safe_cell(u.display_name),
                    safe_cell(u.external_id or ""),
                    ";".join(u.roles),
                    safe_cell(";".join(u.groups or [])),
                    safe_cell(manager.email if manager else ""),
                    u.status.value,
                    u.locale or "",
                ]
            )
        offset += len(users)
        if len(users) < 1000:
            return out.getvalue()


async def import_progress(session: AsyncSession, import_id: UUID) -> int:
    return int(await session.scalar(select(UserImport.progress).where(UserImport.id == import_id)) or 0)


async def run_import_job(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, storage: Storage, tenant_id: UUID, import_id: UUID
) -> str:
    """The worker's side of a large import. Idempotent: a redelivered job waits for the running one
    (advisory lock) and then finds the import no longer running."""

    async def report(percent: int) -> None:
        async with tenant_session(sessions, tenant_id) as progress_session:
            await progress_session.execute(
                text("update user_imports set progress = :p where id = :id"), {"p": percent, "id": import_id}
            )

    async with tenant_session(sessions, tenant_id) as session:
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"import:{import_id}", 0))))
        record = await session.get(UserImport, import_id)
        if record is None or record.status not in (ImportStatus.PREVIEWING.value, ImportStatus.APPLYING.value):
            return "nothing to do"
        # The audit entry of an import applied here names the administrator who uploaded the file.
        audit = AdminAudit(session, tenant_id, AuditActor(user_id=record.created_by))
        await UserImports(session, tenant_id, settings, storage, audit).run(record, None, report)
        return record.status


async def send_import_invitations(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, tenant_id: UUID, import_id: UUID
) -> int:
    """Invitations for accounts an import created, at most INVITATIONS_PER_MINUTE at a time; the job
    sends itself again a minute later while some are left."""
    async with tenant_session(sessions, tenant_id) as session:
        profile = await tenant_profile(session, tenant_id)
        if profile is None:
            return 0
        site = (
            f"https://{profile.custom_hostname}" if profile.custom_hostname else tenant_site_url(settings, profile.slug)
        )
        sent, left = await send_pending_invitations(session, tenant_id, settings, site, INVITATIONS_PER_MINUTE)
        if left:
            enqueue_after_commit(session, INVITATIONS_TASK, str(tenant_id), str(import_id), countdown=60)
        return sent
