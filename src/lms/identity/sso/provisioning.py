"""Just-in-time provisioning from SSO attributes, attribute mapping, and e-mail-domain discovery."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import Role, SsoProvider, User, UserStatus
from lms.lib.errors import Forbidden, NotFound

DEFAULT_MAPPING: dict[str, Any] = {
    "email": "email",
    "name": "name",
    "groups": "groups",
    # IdP group name -> LMS role; roles of unmapped people are `default_roles`.
    "group_roles": {},
    "default_roles": [Role.LEARNER.value],
}


class SsoFailed(Forbidden):
    code = "sso_failed"


@dataclass(frozen=True)
class SsoIdentity:
    """What an IdP asserted about a person, after attribute mapping."""

    email: str
    display_name: str
    groups: list[str]
    roles: list[str] | None


def secret_cipher(secret_key: str) -> Fernet:
    digest = hashlib.sha256(("lms-sso-secrets:" + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def mapping_of(provider: SsoProvider) -> dict[str, Any]:
    return {**DEFAULT_MAPPING, **(provider.attribute_mapping or {})}


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value not in (None, "") else None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def map_attributes(provider: SsoProvider, attributes: dict[str, Any]) -> SsoIdentity:
    """Turn IdP claims/attributes into an identity using the provider's mapping."""
    mapping = mapping_of(provider)
    email = _first(attributes.get(mapping["email"]))
    if email is None or "@" not in email:
        raise SsoFailed(f"the identity provider sent no e-mail address in {mapping['email']!r}")
    name = _first(attributes.get(mapping["name"])) or email
    groups = sorted(set(_as_list(attributes.get(mapping["groups"]))))
    roles: list[str] | None = None
    group_roles: dict[str, str] = mapping.get("group_roles") or {}
    if group_roles:
        valid = {r.value for r in Role}
        mapped = {group_roles[g] for g in groups if group_roles.get(g) in valid}
        roles = sorted(mapped | set(mapping.get("default_roles") or [Role.LEARNER.value]))
    return SsoIdentity(email=email, display_name=name[:200], groups=groups, roles=roles)


async def provision_user(session: AsyncSession, provider: SsoProvider, identity: SsoIdentity) -> User:
    """Find or create the person's account; keep name, groups and (when mapped) roles in step with the IdP."""
    domain = identity.email.rsplit("@", 1)[1].lower()
    if provider.email_domains and domain not in {d.lower() for d in provider.email_domains}:
        raise SsoFailed(f"{provider.name} may not sign in addresses at {domain}")
    user = (
        await session.execute(select(User).where(func.lower(User.email) == identity.email.lower()))
    ).scalar_one_or_none()
    default_roles = list(mapping_of(provider).get("default_roles") or [Role.LEARNER.value])
    if user is None:
        user = User(
            tenant_id=provider.tenant_id,
            email=identity.email,
            display_name=identity.display_name,
            roles=identity.roles or default_roles,
            groups=identity.groups,
            status=UserStatus.ACTIVE,
        )
        session.add(user)
    else:
        if user.status is UserStatus.DEACTIVATED:
            raise SsoFailed("this account is deactivated")
        user.status = UserStatus.ACTIVE
        user.display_name = identity.display_name
        user.groups = identity.groups
        if identity.roles is not None:
            user.roles = identity.roles
    await session.flush()
    return user


async def provider_for_email(session: AsyncSession, email: str) -> SsoProvider | None:
    """E-mail-domain discovery: the enabled provider of this tenant that claims the address's domain."""
    domain = email.rsplit("@", 1)[-1].strip().lower()
    rows = await session.execute(
        select(SsoProvider)
        .where(SsoProvider.enabled.is_(True), SsoProvider.email_domains.contains([domain]))
        .order_by(SsoProvider.created_at)
    )
    return rows.scalars().first()


async def get_provider(session: AsyncSession, provider_id: UUID, kind: str | None = None) -> SsoProvider:
    provider = await session.get(SsoProvider, provider_id)
    if provider is None or (kind is not None and provider.kind != kind):
        raise NotFound("single sign-on provider not found")
    return provider


def safe_next_path(raw: str | None) -> str:
    """Only a relative path on this site: `/courses/1` yes; `//evil.com`, `https://...`, `/\\evil` no."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return "/"
    return raw
