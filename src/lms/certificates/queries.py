"""Certificate reads other domains may call: a person's certificates as small facts.

They run on the caller's tenant-bound session, so RLS scopes them like any certificate query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.certificates.models import Certificate, CertificateState
from lms.lib.records import row_record


@dataclass(frozen=True)
class UserCertificate:
    id: UUID
    course_id: UUID
    course_title: str
    issued_at: datetime
    expires_at: datetime | None
    state: str


async def certificates_of_user(session: AsyncSession, user_id: UUID, limit: int = 100) -> list[UserCertificate]:
    """A person's certificates (every generation), newest first."""
    rows = await session.execute(
        select(
            Certificate.id,
            Certificate.course_id,
            Certificate.course_title,
            Certificate.issued_at,
            Certificate.expires_at,
            Certificate.state,
        )
        .where(Certificate.user_id == user_id)
        .order_by(Certificate.issued_at.desc())
        .limit(limit)
    )
    return [UserCertificate(i, c, t, issued, expires, str(state.value)) for i, c, t, issued, expires, state in rows]


async def certificate_records_of_user(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """A person's certificates as plain records for their personal data export (the signed credential
    included; the stored file's key is internal)."""
    query = select(Certificate).where(Certificate.user_id == user_id).order_by(Certificate.issued_at)
    return [row_record(row, leave_out=("pdf_key",)) for row in await session.scalars(query)]


async def active_certificate_count(session: AsyncSession, user_id: UUID) -> int:
    """How many of a person's certificates are valid (not revoked or superseded)."""
    query = select(func.count()).where(Certificate.user_id == user_id, Certificate.state == CertificateState.ACTIVE)
    return int(await session.scalar(query) or 0)


async def expired_certificate_dates(session: AsyncSession, course_id: UUID, now: datetime) -> dict[UUID, datetime]:
    """Person -> when their certificates for the course ran out, for the people none of whose
    certificates for it is still valid (a certificate without expiry is valid for good)."""
    latest_expiry = func.max(func.coalesce(Certificate.expires_at, literal(datetime.max.replace(tzinfo=UTC))))
    rows = await session.execute(
        select(Certificate.user_id, latest_expiry)
        .where(Certificate.course_id == course_id)
        .group_by(Certificate.user_id)
        .having(latest_expiry < now)
    )
    return {user_id: expired_at for user_id, expired_at in rows.all()}


async def expired_certificate_dates_of_users(
    session: AsyncSession, user_ids: list[UUID], now: datetime
) -> dict[tuple[UUID, UUID], datetime]:
    """(person, course) -> when their certificates for the course ran out, for these people and the
    courses none of whose certificates is still valid (as `expired_certificate_dates`, for a team)."""
    if not user_ids:
        return {}
    latest_expiry = func.max(func.coalesce(Certificate.expires_at, literal(datetime.max.replace(tzinfo=UTC))))
    rows = await session.execute(
        select(Certificate.user_id, Certificate.course_id, latest_expiry)
        .where(Certificate.user_id.in_(user_ids))
        .group_by(Certificate.user_id, Certificate.course_id)
        .having(latest_expiry < now)
    )
    return {(user_id, course_id): expired_at for user_id, course_id, expired_at in rows.all()}
