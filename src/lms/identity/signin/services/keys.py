"""RS256 signing keys: stored encrypted, rotated with `lms keys rotate`, published as JWKS.

The newest active key signs; older keys keep verifying until their tokens can no longer be alive.
Private keys are encrypted with Fernet under a key derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import DateTime, LargeBinary, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import JsonDict, PlatformBase
from lms.lib import clock
from lms.lib.keys import fernet_for

REFRESH_SECONDS = 60.0


class SigningKey(PlatformBase):
    """Platform-wide: tokens of every tenant are signed by the same key ring (`tid` scopes them)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonDict)
    # After retirement a key no longer signs; after verify_until it no longer verifies either.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    verify_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


def fernet(secret_key: str) -> Fernet:
    return fernet_for(secret_key, "lms-signing-keys:")


def new_signing_key(secret_key: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    numbers = private.public_key().public_numbers()
    kid = secrets.token_urlsafe(12)
    jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": _b64int(numbers.n), "e": _b64int(numbers.e)}
    return SigningKey(kid=kid, private_key_encrypted=fernet(secret_key).encrypt(pem), public_jwk=jwk)


def _b64int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def rotate_keys(session: AsyncSession, secret_key: str, token_lifetime: timedelta) -> SigningKey:
    """Add a new signing key; current keys retire but verify for one more token lifetime."""
    now = clock.now()
    rows = await session.execute(select(SigningKey).where(SigningKey.retired_at.is_(None)))
    for key in rows.scalars():
        key.retired_at = now
        key.verify_until = now + token_lifetime + timedelta(minutes=1)
    key = new_signing_key(secret_key)
    session.add(key)
    await session.flush()
    return key


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private_pem: str | None
    public_jwk: dict[str, Any]
    signing: bool


class KeyRing:
    """Keys cached per process; reloaded every minute or when an unknown `kid` shows up."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], secret_key: str) -> None:
        self._sessions = sessions
        self._secret_key = secret_key
        self._keys: dict[str, LoadedKey] = {}
        self._loaded_at = 0.0

    async def signing_key(self) -> LoadedKey:
        await self._refresh()
        signing = [k for k in self._keys.values() if k.signing]
        if not signing:
            await self._create_first_key()
            signing = [k for k in self._keys.values() if k.signing]
        return signing[-1]

    async def verification_key(self, kid: str) -> LoadedKey | None:
        await self._refresh()
        if kid not in self._keys and time.monotonic() - self._loaded_at > 1.0:
            await self._refresh(force=True)
        return self._keys.get(kid)

    async def jwks(self) -> dict[str, Any]:
        await self._refresh()
        return {"keys": [k.public_jwk for k in self._keys.values()]}

    async def _refresh(self, force: bool = False) -> None:
        if not force and self._keys and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return
        now = clock.now()
        async with self._sessions() as session:
            rows = await session.execute(select(SigningKey).order_by(SigningKey.created_at))
            keys = [k for k in rows.scalars() if k.verify_until is None or k.verify_until > now]
        cipher = fernet(self._secret_key)
        self._keys = {
            k.kid: LoadedKey(
                kid=k.kid,
                private_pem=cipher.decrypt(k.private_key_encrypted).decode() if k.retired_at is None else None,
                public_jwk=k.public_jwk,
                signing=k.retired_at is None,
            )
            for k in keys
        }
        self._loaded_at = time.monotonic()

    async def _create_first_key(self) -> None:
        async with self._sessions() as session, session.begin():
            existing = (await session.execute(select(SigningKey).where(SigningKey.retired_at.is_(None)))).first()
            if existing is None:
                session.add(new_signing_key(self._secret_key))
        await self._refresh(force=True)
