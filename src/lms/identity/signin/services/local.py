"""Local sign-in: password check with lockout, invitation acceptance and password reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.accounts.services.directory import PASSWORD_RESET_LIFETIME, UserDirectory, create_action_link
from lms.identity.mfa.services import InvalidMfaCode, TotpFactor, mfa_required_for
from lms.identity.models import ActionPurpose, ActionToken, User, UserStatus
from lms.identity.signin.services.passwords import check_password_policy, hash_password, verify_password
from lms.identity.signin.services.sessions import revoke_user_sessions, token_hash
from lms.identity.signin.services.throttle import SignInThrottle
from lms.lib import clock
from lms.lib.errors import DomainError, Forbidden, Unauthorized
from lms.notifications import services as notifications

WRONG_CREDENTIALS = "e-mail or password is incorrect"
MFA_ENROLMENT_LIFETIME = timedelta(minutes=15)


class InvalidLink(DomainError):
    status = 400
    code = "invalid_link"


class MfaRequired(DomainError):
    status = 401
    code = "mfa_required"


async def tenant_settings(session: AsyncSession, tenant_id: UUID) -> dict[str, Any]:
    """The tenant's settings document (sso.required and friends), readable by the app role."""
    row = await session.execute(text("select settings from tenants where id = :id"), {"id": tenant_id})
    value = row.scalar_one_or_none()
    return value if isinstance(value, dict) else {}


async def sso_required(session: AsyncSession, tenant_id: UUID) -> bool:
    return bool((await tenant_settings(session, tenant_id)).get("sso", {}).get("required", False))


class PasswordSignIn:
    """Checks a password for the current tenant, with Redis lockout per account and per IP."""

    def __init__(self, session: AsyncSession, tenant_id: UUID, throttle: SignInThrottle) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.throttle = throttle

    async def authenticate(self, email: str, password: str, ip: str) -> User:
        # Before any password is looked at: a right and a wrong password get the same answer, so a
        # site that signs in only through SSO cannot be used to test passwords.
        if await sso_required(self.session, self.tenant_id):
            raise Forbidden("this site signs in with your company's single sign-on; passwords are disabled")
        await self.throttle.check(email, ip)
        user = (
            await self.session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
        ).scalar_one_or_none()
        if not await verify_password(user.password_hash if user else None, password) or user is None:
            await self.throttle.record_failure(email, ip)
            raise Unauthorized(WRONG_CREDENTIALS)
        if user.status is not UserStatus.ACTIVE:
            raise Forbidden(f"this account is {user.status.value} and cannot sign in")
        return user

    async def complete(self, user: User, mfa_code: str | None, factor: TotpFactor, ip: str) -> str | None:
        """The second factor after a correct password. Returns an enrolment token instead of signing in
        when the tenant requires MFA for this user's role and none is set up yet."""
        if user.mfa_enabled:
            try:
                await factor.verify(user, mfa_code)
            except InvalidMfaCode as exc:
                if mfa_code:
                    # Guessing codes counts towards the lockout like guessing passwords.
                    await self.throttle.record_failure(user.email, ip)
                    raise
                raise MfaRequired(exc.message, field="mfa_code") from exc
        # Only a complete sign-in clears the failure count: a known password does not open unlimited code guessing.
        await self.throttle.record_success(user.email)
        if not user.mfa_enabled and await mfa_required_for(self.session, user):
            return await create_action_link(self.session, user, ActionPurpose.MFA_ENROLMENT, MFA_ENROLMENT_LIFETIME)
        return None


async def peek_link(session: AsyncSession, raw: str, purpose: ActionPurpose) -> User:
    """The user of a valid link, without using it up."""
    row = (
        await session.execute(
            select(ActionToken).where(ActionToken.token_hash == token_hash(raw), ActionToken.purpose == purpose.value)
        )
    ).scalar_one_or_none()
    user = await session.get(User, row.user_id) if row is not None else None
    if row is None or row.used_at is not None or row.expires_at <= clock.now() or user is None:
        raise InvalidLink("this link is invalid, expired or already used", field="token")
    return user


async def consume_link(session: AsyncSession, raw: str, purpose: ActionPurpose) -> User:
    """Mark a single-use link used and return its user; unknown, used, expired or other-site links fail."""
    row = (
        await session.execute(
            select(ActionToken)
            .where(ActionToken.token_hash == token_hash(raw), ActionToken.purpose == purpose.value)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= clock.now():
        raise InvalidLink("this link is invalid, expired or already used", field="token")
    row.used_at = clock.now()
    user = await session.get(User, row.user_id)
    if user is None:
        raise InvalidLink("this link is invalid, expired or already used", field="token")
    return user


async def accept_invitation(
    session: AsyncSession, tenant_id: UUID, raw: str, password: str, display_name: str | None
) -> User:
    """The invited person sets a password; the account becomes active."""
    if await sso_required(session, tenant_id):
        raise Forbidden("this site signs in with your company's single sign-on; passwords are disabled")
    user = await consume_link(session, raw, ActionPurpose.INVITATION)
    if user.status is not UserStatus.INVITED:
        raise InvalidLink("this invitation is no longer valid", field="token")
    check_password_policy(password, user.email)
    user.password_hash = await hash_password(password)
    user.password_changed_at = clock.now()
    user.status = UserStatus.ACTIVE
    if display_name:
        user.display_name = display_name
    await session.flush()
    return user


async def request_password_reset(directory: UserDirectory, email: str, throttle: SignInThrottle) -> None:
    """E-mail a reset link to an active user; says nothing about whether the address exists."""
    if await sso_required(directory.session, directory.tenant_id):
        return
    user = await directory.find_by_email(email)
    if user is None or user.status is not UserStatus.ACTIVE or not await throttle.reset_email_allowed(email):
        return
    raw = await create_action_link(directory.session, user, ActionPurpose.PASSWORD_RESET, PASSWORD_RESET_LIFETIME)
    await notifications.notify(
        directory.session,
        directory.tenant_id,
        user.id,
        "password_reset",
        link=f"{directory.site_url}/reset-password?token={raw}",
        settings=directory.settings,
    )


async def reset_password(session: AsyncSession, tenant_id: UUID, raw: str, password: str) -> User:
    """Set a new password from a reset link; every existing session of the user ends."""
    if await sso_required(session, tenant_id):
        raise Forbidden("this site signs in with your company's single sign-on; passwords are disabled")
    user = await consume_link(session, raw, ActionPurpose.PASSWORD_RESET)
    if user.status is not UserStatus.ACTIVE:
        raise InvalidLink("this account cannot reset its password", field="token")
    check_password_policy(password, user.email)
    user.password_hash = await hash_password(password)
    user.password_changed_at = clock.now()
    await revoke_user_sessions(session, user.id)
    await session.flush()
    return user


async def change_password(
    session: AsyncSession, user: User, current: str, new: str, throttle: SignInThrottle, ip: str
) -> None:
    """A signed-in user replaces their password; wrong current passwords count towards the lockout."""
    if await sso_required(session, user.tenant_id):
        raise Forbidden("this site signs in with your company's single sign-on; passwords are disabled")
    await throttle.check(user.email, ip)
    if not await verify_password(user.password_hash, current):
        await throttle.record_failure(user.email, ip)
        raise Unauthorized("the current password is not correct", field="current_password")
    check_password_policy(new, user.email, field="new_password")
    user.password_hash = await hash_password(new)
    user.password_changed_at = clock.now()
    await revoke_user_sessions(session, user.id)
    await session.flush()
