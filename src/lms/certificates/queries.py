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


async def users_with_expired_certificate(session: AsyncSession, course_id: UUID, now: datetime) -> set[UUID]:
    """People whose certificates for the course have all passed their expiry date (none still valid)."""
    latest_expiry = func.max(func.coalesce(Certificate.expires_at, literal(datetime.max.replace(tzinfo=UTC))))
    rows = await session.execute(
        select(Certificate.user_id)
        .where(Certificate.course_id == course_id)
        .group_by(Certificate.user_id)
        .having(latest_expiry < now)
    )
    return set(rows.scalars())
