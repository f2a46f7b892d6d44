"""Erasing a person's account: who they were is replaced, every way to sign in as them is removed.

The row itself stays (with its id), so their enrolments, progress, scores and discussion posts still
count in the course's statistics and show as a former member.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.accounts.services.directory import release_seat_of
from lms.identity.models import (
    ERASED_EMAIL_DOMAIN,
    ActionToken,
    MfaRecoveryCode,
    RefreshToken,
    SsoIdentity,
    User,
    UserStatus,
)
from lms.identity.signin.services.sessions import revoke_user_sessions
from lms.lib.errors import NotFound


def erased_email(user_id: UUID) -> str:
    """A unique address per erased person that can never receive mail (.invalid is reserved)."""
    return f"erased-{user_id.hex}{ERASED_EMAIL_DOMAIN}"


async def anonymise_account(session: AsyncSession, tenant_id: UUID, user_id: UUID, display_name: str) -> None:
    """Replace name, e-mail, external id, attributes, groups, manager, language and time zone; remove the
    password, two-step sign-in, single sign-on links, pending invitations or resets and every session.
    The account is deactivated. Running it again changes nothing more."""
    user = await session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise NotFound("user not found", field="user_id")
    user.display_name = display_name
    user.email = erased_email(user.id)
    user.external_id = None
    user.attributes = {}
    user.groups = []
    user.manager_id = None
    user.locale = None
    user.time_zone = None
    user.password_hash = None
    user.totp_secret_encrypted = None
    user.mfa_enabled = False
    if user.status is not UserStatus.DEACTIVATED:
        user.status = UserStatus.DEACTIVATED
        await session.flush()
        await release_seat_of(session, tenant_id, user.id)
    await session.flush()
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    await session.execute(delete(SsoIdentity).where(SsoIdentity.user_id == user.id))
    await session.execute(delete(ActionToken).where(ActionToken.user_id == user.id))
    await revoke_user_sessions(session, user.id)
    # Sessions are ended above; their rows (which device, when) are personal data too.
    await session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
