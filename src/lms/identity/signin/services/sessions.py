"""Sign-in sessions: short-lived access tokens plus opaque, rotating refresh tokens in families.

Each refresh returns a new refresh token of the same family and marks the old one used. Presenting
a used (or revoked) refresh token again means it was stolen or replayed: the whole family is
revoked, so both the thief and the victim must sign in again.

A family is one sign-in session: its access tokens carry the family id as `sid`, and revoking the
family (sign-out, reuse) ends them within lms.identity.signin.services.revocation.POLL_SECONDS, on that device only.

Browsers get the same pair as cookies: `lms_session` (the access token, HttpOnly), `lms_refresh`
(HttpOnly, only sent to /api/v1/auth) and `lms_csrf` (readable by scripts, echoed in X-CSRF-Token).
No Domain attribute is set, so each cookie belongs to the tenant host that set it and no other.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from litestar.datastructures import Cookie
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.guards import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE, SESSION_COOKIE
from lms.identity.models import RefreshToken, User, UserStatus
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.lib import clock
from lms.lib.errors import Unauthorized

REFRESH_LIFETIME = timedelta(days=14)
REFRESH_COOKIE_PATH = "/api/v1/auth"

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "REFRESH_COOKIE", "SESSION_COOKIE"]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_opaque_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class SessionIssuer:
    """Issues, rotates and revokes the sessions of the current tenant (RLS-bound session)."""

    def __init__(self, session: AsyncSession, keys: KeyRing, access_minutes: int) -> None:
        self.session = session
        self.keys = keys
        self.access_seconds = access_minutes * 60

    async def start(self, user: User, family_id: UUID | None = None, sso_provider_id: UUID | None = None) -> TokenPair:
        """A new access token and a refresh token (a new family unless one is given).

        `sso_provider_id` records the single sign-on provider the session came through."""
        raw = new_opaque_token("rt")
        if family_id is None:
            # A new session is a sign-in, however it came (password, single sign-on, an accepted
            # invitation or reset link); a refresh keeps its family and is not.
            user.last_login_at = clock.now()
        family_id = family_id or uuid.uuid4()
        self.session.add(
            RefreshToken(
                tenant_id=user.tenant_id,
                user_id=user.id,
                family_id=family_id,
                token_hash=token_hash(raw),
                expires_at=clock.now() + REFRESH_LIFETIME,
                sso_provider_id=sso_provider_id,
            )
        )
        await self.session.flush()
        access = await issue_access_token(
            self.keys, user.id, user.tenant_id, list(user.roles), self.access_seconds, session_id=family_id
        )
        return TokenPair(access_token=access, refresh_token=raw, expires_in=self.access_seconds)

    async def rotate(self, raw: str) -> TokenPair:
        """Exchange a refresh token for a new pair; a reused token revokes its family (committed)."""
        now = clock.now()
        row = (
            await self.session.execute(
                select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw)).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            raise Unauthorized("unknown refresh token")
        if row.used_at is not None or row.revoked_at is not None:
            await self.revoke_family(row.family_id)
            # Keep the revocation even though the request fails.
            await self.session.commit()
            raise Unauthorized("this refresh token was already used; every session of its family is revoked")
        if row.expires_at <= now:
            raise Unauthorized("refresh token expired")
        user = await self.session.get(User, row.user_id)
        if user is None or user.status is not UserStatus.ACTIVE:
            await self.revoke_family(row.family_id)
            await self.session.commit()
            raise Unauthorized("this account can no longer sign in")
        row.used_at = now
        return await self.start(user, row.family_id, row.sso_provider_id)

    async def revoke(self, raw: str) -> None:
        """Sign out: revoke the family of this refresh token (no error if it is unknown)."""
        family = (
            await self.session.execute(select(RefreshToken.family_id).where(RefreshToken.token_hash == token_hash(raw)))
        ).scalar_one_or_none()
        if family is not None:
            await self.revoke_family(family)

    async def revoke_family(self, family_id: UUID) -> None:
        """The family's refresh tokens stop working, and so do its access tokens (they carry it as `sid`)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )


async def revoke_user_sessions(session: AsyncSession, user_id: UUID) -> None:
    """Every refresh token of a user stops working (deactivation, password reset), and so do the
    access tokens already issued (within lms.identity.signin.services.revocation.POLL_SECONDS)."""
    now = clock.now()
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(update(User).where(User.id == user_id).values(tokens_revoked_at=now))


async def revoke_provider_sessions(session: AsyncSession, user_id: UUID, provider_id: UUID) -> None:
    """Single logout from one provider: only the sessions started through it end.

    Their access tokens carry the session (`sid`), so they stop within seconds through the same
    revocation poll as a sign-out; a password session of the same person stays usable."""
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.sso_provider_id == provider_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=clock.now())
    )


def session_cookies(pair: TokenPair) -> list[Cookie]:
    """The browser session: host-only, Secure, SameSite=Lax; the CSRF token is readable by scripts."""
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=pair.access_token,
            path="/",
            max_age=pair.expires_in,
            httponly=True,
            secure=True,
            samesite="lax",
        ),
        Cookie(
            key=REFRESH_COOKIE,
            value=pair.refresh_token,
            path=REFRESH_COOKIE_PATH,
            max_age=int(REFRESH_LIFETIME.total_seconds()),
            httponly=True,
            secure=True,
            samesite="lax",
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=secrets.token_urlsafe(24),
            path="/",
            max_age=int(REFRESH_LIFETIME.total_seconds()),
            httponly=False,
            secure=True,
            samesite="lax",
        ),
    ]


def cleared_cookies() -> list[Cookie]:
    return [
        Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True, secure=True, samesite="lax"),
        Cookie(
            key=REFRESH_COOKIE,
            value="",
            path=REFRESH_COOKIE_PATH,
            max_age=0,
            httponly=True,
            secure=True,
            samesite="lax",
        ),
        Cookie(key=CSRF_COOKIE, value="", path="/", max_age=0, httponly=False, secure=True, samesite="lax"),
    ]
