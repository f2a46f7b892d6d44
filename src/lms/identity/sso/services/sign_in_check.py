"""Test sign-ins: what a provider asserted and what the mapping makes of it, kept briefly for the admin
who started the test. A test never creates a user or a session; it only shows the answer."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lms.identity.models import Role, SsoProvider
from lms.identity.sso.services.provisioning import SsoFailed, map_attributes, mapping_of
from lms.lib.errors import NotFound

RESULT_SECONDS = 600


@dataclass(frozen=True)
class SignInTestResult:
    provider_id: UUID
    # The claims (OIDC) or attributes (SAML) as the provider sent them.
    claims: dict[str, Any]
    # After the attribute mapping: e-mail, name, groups, roles a new account would get.
    profile: dict[str, Any] | None
    # Why a real sign-in with this answer would be refused (no usable e-mail, no subject).
    problem: str | None


def _key(namespace: str, result_id: str) -> str:
    return f"{namespace}:sso:test:{result_id}"


def mapped_profile(provider: SsoProvider, claims: dict[str, Any], subject: str | None) -> dict[str, Any]:
    """The profile a sign-in would provision from these claims (SsoFailed when it would be refused)."""
    identity = map_attributes(provider, claims, subject)
    roles = set(identity.group_roles) or set(mapping_of(provider).get("default_roles") or [Role.LEARNER.value])
    return {
        "subject": identity.subject,
        "email": identity.email,
        "email_verified": identity.email_verified,
        "display_name": identity.display_name,
        "groups": identity.groups,
        "roles": sorted(roles),
    }


async def keep_test_result(
    redis: Any, namespace: str, provider: SsoProvider, tested_by: UUID, claims: dict[str, Any], subject: str | None
) -> str:
    """Store the answer of a test sign-in for the admin who started it; returns the result's id."""
    try:
        profile: dict[str, Any] | None = mapped_profile(provider, claims, subject)
        problem = None
    except SsoFailed as exc:
        profile, problem = None, exc.message
    result_id = secrets.token_urlsafe(18)
    record = {
        "tenant_id": str(provider.tenant_id),
        "provider_id": str(provider.id),
        "tested_by": str(tested_by),
        "claims": claims,
        "profile": profile,
        "problem": problem,
    }
    await redis.set(_key(namespace, result_id), json.dumps(record, default=str), ex=RESULT_SECONDS)
    return result_id


async def read_test_result(
    redis: Any, namespace: str, tenant_id: UUID, viewer_id: UUID, result_id: str
) -> SignInTestResult:
    """The result, only for the admin of this site who started the test; NotFound once it expired."""
    raw = await redis.get(_key(namespace, result_id)) if len(result_id) <= 64 else None
    record = json.loads(raw) if raw else {}
    if record.get("tenant_id") != str(tenant_id) or record.get("tested_by") != str(viewer_id):
        raise NotFound("this test sign-in has expired; start it again")
    return SignInTestResult(UUID(record["provider_id"]), record["claims"], record["profile"], record["problem"])
