"""Multi-factor sign-in with TOTP (RFC 6238): enrolment with a QR code, verification, recovery codes,
and the tenant setting that makes a second factor mandatory for instructors and tenant admins.

A TOTP code is accepted once: the time step it belongs to is remembered in Redis until it can no
longer be valid, so a code seen over someone's shoulder cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pyotp
import qrcode
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import IdentitySettings, MfaRecoveryCode, Role, User
from lms.lib import clock
from lms.lib.errors import Conflict, DomainError, ValidationFailed
from lms.lib.keys import fernet_for
from lms.tenancy.services.audit import AdminAudit

ISSUER_NAME = "Learning platform"
RECOVERY_CODES = 10
STAFF_ROLES = frozenset({Role.INSTRUCTOR.value, Role.TENANT_ADMIN.value})


class InvalidMfaCode(DomainError):
    status = 401
    code = "invalid_mfa_code"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_png_data_uri: str


def _cipher(secret_key: str) -> Fernet:
    return fernet_for(secret_key, "lms-totp:")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def qr_png_data_uri(text: str) -> str:
    image = qrcode.make(text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def settings_of(session: AsyncSession) -> IdentitySettings | None:
    return (await session.execute(select(IdentitySettings))).scalar_one_or_none()


async def require_mfa_for_staff(
    session: AsyncSession, tenant_id: UUID, required: bool, audit: AdminAudit
) -> IdentitySettings:
    """Turn the tenant's "second factor required for staff" setting on or off."""
    settings = await settings_of(session)
    if settings is None:
        settings = IdentitySettings(tenant_id=tenant_id, mfa_required_for_staff=False)
        session.add(settings)
    before = {"mfa_required_for_staff": bool(settings.mfa_required_for_staff)}
    settings.mfa_required_for_staff = required
    await session.flush()
    await audit.record_change(
        "settings.mfa_required_changed", "settings", None, None, before, {"mfa_required_for_staff": required}
    )
    return settings


async def mfa_required_for(session: AsyncSession, user: User) -> bool:
    """True when the tenant requires a second factor and the user is staff (instructor or admin)."""
    settings = await settings_of(session)
    return bool(settings and settings.mfa_required_for_staff and STAFF_ROLES & set(user.roles))


class TotpFactor:
    """TOTP enrolment and verification for users of the current tenant."""

    def __init__(self, session: AsyncSession, redis: Any, namespace: str, secret_key: str, site_name: str) -> None:
        self.session = session
        self.redis = redis
        self.namespace = namespace
        self.cipher = _cipher(secret_key)
        self.site_name = site_name

    def _secret(self, user: User) -> str | None:
        return self.cipher.decrypt(user.totp_secret_encrypted).decode() if user.totp_secret_encrypted else None

    async def begin_enrolment(self, user: User) -> Enrolment:
        """A new secret (replacing an unconfirmed one); MFA is on only after `confirm`."""
        if user.mfa_enabled:
            raise Conflict("multi-factor sign-in is already enabled; disable it first to enrol again")
        secret = pyotp.random_base32()
        user.totp_secret_encrypted = self.cipher.encrypt(secret.encode())
        await self.session.flush()
        return self._enrolment(user, secret)

    def pending_enrolment(self, user: User) -> Enrolment | None:
        """The enrolment begun but not yet confirmed (shown again after a mistyped code)."""
        secret = self._secret(user)
        return self._enrolment(user, secret) if secret and not user.mfa_enabled else None

    def _enrolment(self, user: User, secret: str) -> Enrolment:
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=f"{ISSUER_NAME} ({self.site_name})")
        return Enrolment(secret=secret, otpauth_uri=uri, qr_png_data_uri=qr_png_data_uri(uri))

    async def confirm(self, user: User, code: str) -> list[str]:
        """The first correct code turns MFA on; returns the recovery codes (shown once)."""
        if user.mfa_enabled:
            raise Conflict("multi-factor sign-in is already enabled")
        if self._secret(user) is None:
            raise ValidationFailed("start the enrolment first", field="code")
        if not await self._check_totp(user, code):
            raise InvalidMfaCode("the code is not correct", field="code")
        user.mfa_enabled = True
        return await self.new_recovery_codes(user)

    async def new_recovery_codes(self, user: User) -> list[str]:
        await self.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
        codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
        for code in codes:
            self.session.add(MfaRecoveryCode(tenant_id=user.tenant_id, user_id=user.id, code_hash=_code_hash(code)))
        await self.session.flush()
        return codes

    async def verify(self, user: User, code: str | None) -> None:
        """A TOTP code or an unused recovery code; raises InvalidMfaCode otherwise."""
        if not code:
            raise InvalidMfaCode(
                "a code from your authenticator app (or a recovery code) is required", field="mfa_code"
            )
        if await self._check_totp(user, code):
            return
        row = (
            await self.session.execute(
                select(MfaRecoveryCode)
                .where(
                    MfaRecoveryCode.user_id == user.id,
                    MfaRecoveryCode.code_hash == _code_hash(code),
                    MfaRecoveryCode.used_at.is_(None),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            raise InvalidMfaCode("the code is not correct", field="mfa_code")
        row.used_at = clock.now()

    async def disable(self, user: User, code: str) -> None:
        if not user.mfa_enabled:
            raise Conflict("multi-factor sign-in is not enabled")
        if await mfa_required_for(self.session, user):
            raise Conflict("your organisation requires multi-factor sign-in for your role")
        await self.verify(user, code)
        user.mfa_enabled = False
        user.totp_secret_encrypted = None
        await self.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))

    async def recovery_codes_left(self, user_id: UUID) -> int:
        count = await self.session.execute(
            select(func.count()).where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
        )
        return int(count.scalar_one())

    async def _check_totp(self, user: User, code: str) -> bool:
        secret = self._secret(user)
        digits = code.strip().replace(" ", "")
        if secret is None or not (digits.isdigit() and len(digits) == 6):
            return False
        totp = pyotp.TOTP(secret)
        now = clock.timestamp()
        # One step of clock drift either way.
        for drift in (0, -1, 1):
            at = now + drift * totp.interval
            if secrets.compare_digest(totp.at(at), digits):
                step = int(at // totp.interval)
                key = f"{self.namespace}:totp:used:{user.id}:{step}"
                # First use of this step wins; a replay of the same code is refused.
                return bool(await self.redis.set(key, "1", nx=True, ex=totp.interval * 3))
        return False
