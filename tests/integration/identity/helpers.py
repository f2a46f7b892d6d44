"""Shared arrange steps for identity tests: users with passwords, the outbox, secure hosts."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.identity.signin.services.passwords import hash_password
from lms.lib.mail import EmailMessage
from lms.tenancy.models import Tenant
from tests.conftest import MakeUser
from tests.support import TEST_BASE_DOMAIN

PASSWORD = "correct horse battery staple"


def secure_host(tenant: Tenant) -> str:
    """https, so that the client sends the Secure session cookies back."""
    return f"https://{tenant.slug}.{TEST_BASE_DOMAIN}"


_password_hash: list[str] = []


async def make_member(make_user: MakeUser, tenant: Tenant, roles: list[str] | None = None, **fields: Any) -> User:
    """An active user who signs in with PASSWORD (hashed once per test process: argon2 is slow on
    purpose, and a salt of its own per user proves nothing here)."""
    if not _password_hash:
        _password_hash.append(await hash_password(PASSWORD))
    return await make_user(tenant, roles=roles, password_hash=_password_hash[0], **fields)


async def outbox(db: Database, tenant: Tenant, recipient: str | None = None) -> list[EmailMessage]:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        query = select(EmailMessage).order_by(EmailMessage.created_at)
        if recipient is not None:
            query = query.where(EmailMessage.recipient == recipient)
        return list((await session.execute(query)).scalars())


def link_token(message: EmailMessage) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    return match.group(1)
