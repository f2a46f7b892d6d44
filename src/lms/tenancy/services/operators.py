"""Platform operator accounts and their API tokens (stored only as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib.errors import Conflict
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
