"""The tenant admins' audit log: one writer every domain calls for an administrative change, and its reads.

Entries are written in the caller's transaction, so a change and its entry commit (or roll back) together.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.queries import user_contact
from lms.lib.pagination import count_and_fetch
from lms.lib.spreadsheet import safe_cell
from lms.tenancy.models import AdminAuditEntry

# One export answers in one response; a longer history is exported a date range at a time.
EXPORT_LIMIT = 100_000
CSV_COLUMNS = ["time", "actor", "action", "target_type", "target_id", "target", "before", "after", "request_id"]


@dataclass(frozen=True)
class AuditActor:
    """Who acts: a signed-in user, or a named integration such as a SCIM token (`label` only).

    A user's label (their e-mail) is looked up at the first entry, so routes that record nothing pay nothing.
    """

    label: str | None = None
    user_id: UUID | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_user_id: UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, so an entry shows the change rather than two copies of a record."""
    keys = [key for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


class AdminAudit:
    """Writes and reads the current tenant's audit log (the session is RLS-bound to the tenant)."""

    def __init__(self, session: AsyncSession, tenant_id: UUID, actor: AuditActor) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.actor = actor

    async def record(
        self,
        action: str,
        target_type: str,
        target_id: object | None = None,
        target_label: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AdminAuditEntry:
        """Add an entry for `action` (such as `user.roles_changed`) on a target, in the caller's transaction."""
        entry = AdminAuditEntry(
            tenant_id=self.tenant_id,
            actor_user_id=self.actor.user_id,
            actor_label=(await self._actor_label())[:320],
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            target_label=target_label[:320] if target_label else None,
            before=before,
            after=after,
            request_id=self.actor.request_id,
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def record_change(
        self,
        action: str,
        target_type: str,
        target_id: object,
        target_label: str | None,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> AdminAuditEntry | None:
        """An entry with only the fields that changed; nothing when nothing changed."""
        old, new = changed_fields(before, after)
        if not old and not new:
            return None
        return await self.record(action, target_type, target_id, target_label, old, new)

    async def _actor_label(self) -> str:
        if self.actor.label is None:
            contact = await user_contact(self.session, self.actor.user_id) if self.actor.user_id else None
            self.actor = AuditActor(contact.email if contact else "unknown", self.actor.user_id, self.actor.request_id)
        return self.actor.label or "unknown"

    def _query(self, where: AuditFilter) -> Select[AdminAuditEntry]:
        query = select(AdminAuditEntry)
        if where.action:
            query = query.where(AdminAuditEntry.action == where.action)
        if where.actor_user_id:
            query = query.where(AdminAuditEntry.actor_user_id == where.actor_user_id)
        if where.target_type:
            query = query.where(AdminAuditEntry.target_type == where.target_type)
        if where.target_id:
            query = query.where(AdminAuditEntry.target_id == where.target_id)
        if where.since:
            query = query.where(AdminAuditEntry.created_at >= where.since)
        if where.until:
            query = query.where(AdminAuditEntry.created_at < where.until)
        return query.order_by(AdminAuditEntry.created_at.desc(), AdminAuditEntry.id.desc())

    async def entries(self, where: AuditFilter, limit: int, offset: int) -> tuple[list[AdminAuditEntry], int]:
        """Newest first, filtered."""
        return await count_and_fetch(self.session, self._query(where), limit, offset)

    async def actions(self) -> list[str]:
        """The distinct actions recorded so far (the filter's choices)."""
        rows = await self.session.execute(select(AdminAuditEntry.action).distinct().order_by(AdminAuditEntry.action))
        return list(rows.scalars())

    async def export_csv(self, where: AuditFilter, limit: int = EXPORT_LIMIT) -> str:
        """The filtered log as CSV, newest first, at most `limit` entries (narrow the dates for more)."""
        lines = [_csv_line(CSV_COLUMNS)]
        rows = await self.session.stream(self._query(where).limit(limit).execution_options(yield_per=1000))
        async for (entry,) in rows:
            lines.append(
                _csv_line(
                    [
                        entry.created_at.isoformat(),
                        entry.actor_label,
                        entry.action,
                        entry.target_type,
                        entry.target_id,
                        entry.target_label,
                        _json(entry.before),
                        _json(entry.after),
                        entry.request_id,
                    ]
                )
            )
        return "".join(lines)


def _json(value: dict[str, Any] | None) -> str:
    return json.dumps(value, sort_keys=True, default=str) if value else ""


def _csv_line(cells: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell("" if cell is None else str(cell)) for cell in cells])
    return out.getvalue()


async def anonymise_labels(session: AsyncSession, user_id: UUID, label: str, forget: Iterable[str]) -> None:
    """An erased person's name and address leave the entries about them and by them: the labels, and
    any before/after value equal to one of `forget`. What was done, when and by which account id stays."""
    secrets = {value for value in forget if value}
    await session.execute(
        update(AdminAuditEntry).where(AdminAuditEntry.actor_user_id == user_id).values(actor_label=label)
    )
    entries = await session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.target_id == str(user_id)))
    for entry in entries:
        entry.target_label = label
        entry.before = _without(entry.before, secrets, label)
        entry.after = _without(entry.after, secrets, label)
    await session.flush()


def _without(values: dict[str, Any] | None, secrets: set[str], label: str) -> dict[str, Any] | None:
    if not values:
        return values
    return {key: label if isinstance(value, str) and value in secrets else value for key, value in values.items()}
