"""Forged, expired and misplaced access tokens are refused; a valid one is served only on its own site."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import AUDIENCE, ISSUER
from tests.conftest import Login, MakeTenant, MakeUser, host

Client = AsyncTestClient[Litestar]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user: User, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(user.id),
        "tid": str(user.tenant_id),
        "roles": ["tenant_admin"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(overrides)
    return claims


def unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


async def me(client: Client, user_host: str, token: str) -> tuple[int, str]:
    response = await client.get(f"{user_host}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()["error"]["message"] if response.status_code != 200 else ""


async def test_alg_none_is_rejected(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, key_ring: KeyRing
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    kid = (await key_ring.signing_key()).kid
    token = unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims_for(user)) + "."
    assert await me(client, host(tenant), token) == (401, "unsupported token algorithm")


async def test_hs256_signed_with_the_public_key_is_rejected(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, key_ring: KeyRing
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    key = await key_ring.signing_key()
    assert key.private_pem is not None
    public_pem = (
        serialization.load_pem_private_key(key.private_pem.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims_for(user))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert await me(client, host(tenant), f"{signing_input}.{b64(signature)}") == (401, "unsupported token algorithm")


def rs256(private: rsa.RSAPrivateKey, kid: str, claims: dict[str, object]) -> str:
    signing_input = unsigned({"alg": "RS256", "typ": "JWT", "kid": kid}, claims)
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), SHA256())
    return f"{signing_input}.{b64(signature)}"


async def test_unknown_kid_and_foreign_key_are_rejected(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, key_ring: KeyRing
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await me(client, host(tenant), rs256(attacker, "attacker-key", claims_for(user))) == (
        401,
        "unknown signing key",
    )
    real_kid = (await key_ring.signing_key()).kid
    assert await me(client, host(tenant), rs256(attacker, real_kid, claims_for(user))) == (401, "invalid token")


async def test_tampered_claims_break_the_signature(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant, roles=["learner"])
    token = (await login(user))["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["tenant_admin"]
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert (
        await client.get(f"{host(tenant)}/api/v1/users", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401


async def test_expired_token_is_rejected(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    token = (await login(user, lifetime_seconds=-30))["Authorization"].removeprefix("Bearer ")
    assert await me(client, host(tenant), token) == (401, "token expired")


async def test_other_tenants_token_is_rejected_on_this_host(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    user_a = await make_user(tenant_a, roles=["tenant_admin"])
    headers = await login(user_a)
    assert (await client.get(f"{host(tenant_a)}/api/v1/me", headers=headers)).status_code == 200
    on_b = await client.get(f"{host(tenant_b)}/api/v1/me", headers=headers)
    assert on_b.status_code == 401
    assert on_b.json()["error"]["message"] == "this token was issued for another site"
