"""Access tokens end with their user's sessions, or with their own session, not only at expiry.

Access tokens are verified without reading the database, which is what keeps every request cheap.
When a user's sessions are revoked (deactivation, SCIM deprovisioning, a password change or reset),
`users.tokens_revoked_at` is set in the same transaction. When one session ends (sign-out, a reused
refresh token), its refresh-token family is revoked, and its access tokens carry that family as
`sid`. Each API process re-reads what was revoked within the last access-token lifetime at most
every POLL_SECONDS, through two reviewed SECURITY DEFINER functions (`app.recently_revoked_users`
and `app.recently_revoked_sessions`: ids and instants only, across tenants), and refuses a token
issued before its user's instant or belonging to a revoked session.
"""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.lib import clock

POLL_SECONDS = 5.0
_RECENT = text("select user_id, revoked_at from app.recently_revoked_users(:since)")
_RECENT_SESSIONS = text("select session_id from app.recently_revoked_sessions(:since)")

log = structlog.get_logger(__name__)


class RevokedTokens:
    """This process's view of recent revocations: user id -> Unix second of the revocation, and
    the revoked sessions (refresh-token families)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        token_lifetime_seconds: int,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._sessions = sessions
        # A token issued before the window has expired anyway; a minute's margin covers clock skew.
        self._window = timedelta(seconds=token_lifetime_seconds + 60)
        self._poll = poll_seconds
        self._next_poll = 0.0
        self._revoked: dict[UUID, int] = {}
        self._revoked_sessions: frozenset[UUID] = frozenset()

    async def is_revoked(self, user_id: UUID, issued_at: int, session_id: UUID | None = None) -> bool:
        """Whether a token issued at `issued_at` (Unix seconds) predates its user's revocation, or
        belongs to a session that has ended.

        Whole seconds, as in the token: one issued in the very second of the revocation (the new
        session a password change hands out) stays valid. A revoked session never issues another
        token, so its tokens are refused whenever they were issued."""
        if time.monotonic() >= self._next_poll:
            await self.refresh()
        if session_id is not None and session_id in self._revoked_sessions:
            return True
        revoked_at = self._revoked.get(user_id)
        return revoked_at is not None and issued_at < revoked_at

    async def refresh(self) -> None:
        """Re-read recent revocations; on a database error keep the last view and retry soon."""
        self._next_poll = time.monotonic() + self._poll
        since = clock.now() - self._window
        try:
            async with self._sessions() as session:
                rows = (await session.execute(_RECENT, {"since": since})).all()
                sessions = (await session.execute(_RECENT_SESSIONS, {"since": since})).scalars().all()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("token revocations not refreshed", error=str(exc))
            return
        self._revoked = {row.user_id: int(row.revoked_at.timestamp()) for row in rows}
        self._revoked_sessions = frozenset(sessions)

    def invalidate(self) -> None:
        """Re-read on the next check (this process just revoked someone)."""
        self._next_poll = 0.0
