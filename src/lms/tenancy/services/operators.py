"""Platform operator accounts and their API tokens (stored only as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pyotp
from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.mfa.services import ISSUER_NAME, Enrolment, InvalidMfaCode, qr_png_data_uri
from lms.lib import clock
from lms.lib.errors import Conflict, DomainError
from lms.lib.keys import fernet_for
from lms.tenancy.models import Operator

TOKEN_PREFIX = "lmsop_"


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast digest is enough; no password-style stretching.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_operator(session: AsyncSession, email: str, name: str) -> tuple[Operator, str]:
    """Create an operator and return it with its token, which is shown once and never stored."""
    email = email.strip().lower()
    if (await session.execute(select(Operator).where(Operator.email == email))).scalar_one_or_none():
        raise Conflict(f"an operator with e-mail {email} already exists", field="email")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    operator = Operator(email=email, name=name, token_hash=hash_token(token), disabled=False)
    session.add(operator)
    await session.flush()
    return operator, token


async def rotate_operator_token(session: AsyncSession, email: str) -> str | None:
    """Replace an operator's token; the old one stops working at once. None if no such operator."""
    operator = (
        await session.execute(select(Operator).where(Operator.email == email.strip().lower()))
    ).scalar_one_or_none()
    if operator is None:
        return None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    operator.token_hash = hash_token(token)
    await session.flush()
    return token


async def find_operator_by_token(session: AsyncSession, token: str) -> Operator | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    query = select(Operator).where(Operator.token_hash == hash_token(token))
    return (await session.execute(query)).scalar_one_or_none()


# --- the operator console: sign-in with the operator's token and a TOTP second factor -------------
CONSOLE_COOKIE = "lms_operator"
PENDING_COOKIE = "lms_operator_pending"
CONSOLE_SESSION_SECONDS = 8 * 3600
PENDING_SECONDS = 600
_COOKIE_PURPOSE = "lms-operator-console:"
_TOTP_PURPOSE = "lms-operator-totp:"


class InvalidOperatorCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


@dataclass(frozen=True)
class ConsoleTicket:
    """What a console cookie proves: this operator, with this token, passed `stage` (token or mfa)."""

    operator_id: UUID
    token_fingerprint: str
    stage: str


def _fingerprint(operator: Operator) -> str:
    # A rotated token (or a re-enrolled factor) ends every console session made with the old one.
    return hashlib.sha256(f"{operator.token_hash}:{operator.mfa_enrolled_at}".encode()).hexdigest()[:24]


class OperatorConsole:
    """Sign-in to the console: token first, then a TOTP code (enrolment on first use). Sessions are
    encrypted, time-limited cookies bound to the operator's current token; nothing is stored."""

    def __init__(self, session: AsyncSession, redis: Any, secret_key: str) -> None:
        self.session = session
        self.redis = redis
        self.secret_key = secret_key
        self.cookies = fernet_for(secret_key, _COOKIE_PURPOSE)
        self.secrets = fernet_for(secret_key, _TOTP_PURPOSE)

    async def check_token(self, email: str, token: str) -> Operator:
        """The enabled operator with this e-mail and token; one answer for every kind of mismatch."""
        operator = await find_operator_by_token(self.session, token.strip())
        if operator is None or operator.disabled or operator.email != email.strip().lower():
            raise InvalidOperatorCredentials("the e-mail or the operator token is not right", field="token")
        return operator

    def ticket(self, operator: Operator, stage: str) -> str:
        payload = {"op": str(operator.id), "fp": _fingerprint(operator), "stage": stage}
        return self.cookies.encrypt(json.dumps(payload).encode()).decode()

    def read_ticket(self, value: str | None, stage: str) -> ConsoleTicket | None:
        if not value:
            return None
        ttl = CONSOLE_SESSION_SECONDS if stage == "mfa" else PENDING_SECONDS
        try:
            payload = json.loads(self.cookies.decrypt(value.encode(), ttl=ttl))
            ticket = ConsoleTicket(UUID(payload["op"]), str(payload["fp"]), str(payload["stage"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
        return ticket if ticket.stage == stage else None

    async def operator_for(self, ticket: ConsoleTicket | None) -> Operator | None:
        """The ticket's operator while it is enabled and its token unchanged."""
        if ticket is None:
            return None
        operator = await self.session.get(Operator, ticket.operator_id)
        if operator is None or operator.disabled or _fingerprint(operator) != ticket.token_fingerprint:
            return None
        return operator

    def new_enrolment(self, operator: Operator) -> tuple[Enrolment, str]:
        """A fresh TOTP secret with its QR code, and the secret sealed for the confirming form."""
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=operator.email, issuer_name=f"{ISSUER_NAME} operators")
        return Enrolment(secret, uri, qr_png_data_uri(uri)), self.cookies.encrypt(secret.encode()).decode()

    def unseal_enrolment(self, sealed: str) -> str | None:
        try:
            return self.cookies.decrypt(sealed.encode(), ttl=PENDING_SECONDS).decode()
        except (InvalidToken, ValueError):
            return None

    async def confirm_enrolment(self, operator: Operator, secret: str, code: str) -> None:
        if not await self._code_matches(operator, secret, code):
            raise InvalidMfaCode("the code is not right; codes change every 30 seconds", field="code")
        operator.mfa_secret = self.secrets.encrypt(secret.encode()).decode()
        operator.mfa_enrolled_at = clock.now()
        await self.session.flush()

    async def verify(self, operator: Operator, code: str) -> None:
        if operator.mfa_secret is None:
            raise InvalidMfaCode("this operator has not set up two-step sign-in yet", field="code")
        secret = self.secrets.decrypt(operator.mfa_secret.encode()).decode()
        if not await self._code_matches(operator, secret, code):
            raise InvalidMfaCode("the code is not right; codes change every 30 seconds", field="code")

    async def _code_matches(self, operator: Operator, secret: str, code: str) -> bool:
        digits = code.strip().replace(" ", "")
        if not (digits.isdigit() and len(digits) == 6):
            return False
        totp = pyotp.TOTP(secret)
        now = clock.timestamp()
        for drift in (0, -1, 1):
            at = now + drift * totp.interval
            if secrets.compare_digest(totp.at(at), digits):
                # A code is accepted once: a replay within its validity is refused.
                step = int(at // totp.interval)
                key = f"lms:operator-totp:used:{operator.id}:{step}"
                return bool(await self.redis.set(key, "1", nx=True, ex=totp.interval * 3))
        return False
