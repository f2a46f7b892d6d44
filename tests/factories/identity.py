"""Identity rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import (
    ActionToken,
    IdentitySettings,
    MfaRecoveryCode,
    RefreshToken,
    SamlAssertionSeen,
    ScimToken,
    SsoProvider,
    User,
    UserGroup,
)
from lms.lib.mail import EmailMessage
from tests.factories.base import add, row_factory


@row_factory("users")
async def make_user(session: AsyncSession, tenant_id: UUID, **fields: Any) -> User:
    values: dict[str, Any] = {
        "email": f"user-{uuid.uuid4().hex[:8]}@example.com",
        "display_name": "Ada Learner",
        "roles": ["learner"],
    }
    values.update(fields)
    return await add(session, User(tenant_id=tenant_id, **values))


@row_factory("refresh_tokens")
async def make_refresh_token(session: AsyncSession, tenant_id: UUID) -> RefreshToken:
    user = await make_user(session, tenant_id)
    return await add(
        session,
        RefreshToken(
            tenant_id=tenant_id,
            user_id=user.id,
            family_id=uuid.uuid4(),
            token_hash=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        ),
    )


@row_factory("action_tokens")
async def make_action_token(session: AsyncSession, tenant_id: UUID) -> ActionToken:
    user = await make_user(session, tenant_id)
    return await add(
        session,
        ActionToken(
            tenant_id=tenant_id,
            user_id=user.id,
            purpose="invitation",
            token_hash=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        ),
    )


@row_factory("email_outbox")
async def make_email(session: AsyncSession, tenant_id: UUID) -> EmailMessage:
    return await add(
        session, EmailMessage(tenant_id=tenant_id, recipient="someone@example.com", subject="Hello", body="Hi")
    )


@row_factory("scim_tokens")
async def make_scim_token(session: AsyncSession, tenant_id: UUID) -> ScimToken:
    return await add(session, ScimToken(tenant_id=tenant_id, name="Okta", token_hash=uuid.uuid4().hex))


@row_factory("user_groups")
async def make_group(session: AsyncSession, tenant_id: UUID) -> UserGroup:
    return await add(session, UserGroup(tenant_id=tenant_id, display_name=f"group-{uuid.uuid4().hex[:8]}"))


@row_factory("sso_providers")
async def make_sso_provider(session: AsyncSession, tenant_id: UUID) -> SsoProvider:
    return await add(
        session,
        SsoProvider(
            tenant_id=tenant_id,
            kind="oidc",
            name=f"idp-{uuid.uuid4().hex[:8]}",
            config={"issuer": "https://idp.example.com", "client_id": "lms"},
        ),
    )


@row_factory("saml_assertions_seen")
async def make_seen_assertion(session: AsyncSession, tenant_id: UUID) -> SamlAssertionSeen:
    return await add(
        session,
        SamlAssertionSeen(
            tenant_id=tenant_id, assertion_id=f"_{uuid.uuid4().hex}", expires_at=datetime.now(UTC) + timedelta(hours=1)
        ),
    )


@row_factory("mfa_recovery_codes")
async def make_recovery_code(session: AsyncSession, tenant_id: UUID) -> MfaRecoveryCode:
    user = await make_user(session, tenant_id)
    return await add(session, MfaRecoveryCode(tenant_id=tenant_id, user_id=user.id, code_hash=uuid.uuid4().hex))


@row_factory("identity_settings")
async def make_identity_settings(session: AsyncSession, tenant_id: UUID) -> IdentitySettings:
    return await add(session, IdentitySettings(tenant_id=tenant_id, mfa_required_for_staff=True))
