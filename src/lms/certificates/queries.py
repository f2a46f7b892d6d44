"""Certificate reads other domains may call: a person's certificates as small facts.

They run on the caller's tenant-bound session, so RLS scopes them like any certificate query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.certificates.models import Certificate


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
