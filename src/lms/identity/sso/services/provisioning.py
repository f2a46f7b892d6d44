"""Just-in-time provisioning from SSO attributes, attribute mapping, and e-mail-domain discovery."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import Role, SsoProvider
from lms.lib.errors import DomainError, Forbidden, NotFound

DEFAULT_MAPPING: dict[str, Any] = {
    "email": "email",
    "name": "name",
    "groups": "groups",
    # IdP group name -> LMS role; roles of unmapped people are `default_roles`.
    "group_roles": {},
    "default_roles": [Role.LEARNER.value],
    # The claim/attribute saying the provider verified the address (OIDC `email_verified`).
    "email_verified": "email_verified",
}
MAX_SUBJECT = 512
# A longer `next` / RelayState is not a path anyone meant; it would only bloat the Location header.
MAX_NEXT_PATH = 2048


class SsoFailed(Forbidden):
    code = "sso_failed"


class SsoMalformed(DomainError):
    """A sign-in or logout message that cannot be read (bad encoding, not XML, a DTD, missing parts)."""

    status = 400
    code = "sso_malformed"


class SsoProviderUnavailable(DomainError):
    """The identity provider could not be reached or answered something unusable."""

    status = 502
    code = "sso_provider_unavailable"


@dataclass(frozen=True)
class AssertedIdentity:
    """What an IdP asserted about a person, after attribute mapping."""

    subject: str
    email: str
    email_verified: bool
    display_name: str
    groups: list[str]
    # Roles granted by the person's IdP groups through `group_roles`.
    group_roles: frozenset[str]


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


def _is_true(value: Any) -> bool:
    if isinstance(value, list):
        value = value[0] if value else None
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


def map_attributes(provider: SsoProvider, attributes: dict[str, Any], subject: str | None) -> AssertedIdentity:
    """Turn IdP claims/attributes into an identity using the provider's mapping."""
    if not subject or len(subject) > MAX_SUBJECT:
        raise SsoFailed("the identity provider sent no usable subject (sub / NameID)")
    mapping = mapping_of(provider)
    email = _first(attributes.get(mapping["email"]))
    if email is None or "@" not in email or len(email) > 320:
        raise SsoFailed(f"the identity provider sent no e-mail address in {mapping['email']!r}")
    name = _first(attributes.get(mapping["name"])) or email
    groups = sorted(set(_as_list(attributes.get(mapping["groups"]))))
    group_roles: dict[str, str] = mapping.get("group_roles") or {}
    valid = {r.value for r in Role}
    granted = frozenset(group_roles[g] for g in groups if group_roles.get(g) in valid)
    return AssertedIdentity(
        subject=subject,
        email=email,
        email_verified=_is_true(attributes.get(mapping["email_verified"])),
        display_name=name[:200],
        groups=groups,
        group_roles=granted,
    )


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
    if not raw or len(raw) > MAX_NEXT_PATH or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return "/"
    return raw
