"""Signing out, or replaying a spent refresh token, ends that session's access tokens within seconds,
and only that session's: the same user's other devices keep working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import RefreshToken
from lms.identity.signin.services.revocation import POLL_SECONDS
from lms.identity.signin.services.sessions import token_hash
from lms.tenancy.models import Tenant
from tests.conftest import MakeTenant, MakeUser, eventually, host
from tests.integration.identity.helpers import PASSWORD, make_member, secure_host

Client = AsyncTestClient[Litestar]
LIMIT = POLL_SECONDS + 3


async def sign_in(client: Client, tenant: Tenant, email: str, base: str | None = None) -> dict[str, Any]:
    answer = await client.post(f"{base or host(tenant)}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def sign_out_by_refresh_body(client: Client, tenant: Tenant, pair: dict[str, Any]) -> int:
    out = await client.post(f"{host(tenant)}/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    return out.status_code


async def sign_out_by_access_token(client: Client, tenant: Tenant, pair: dict[str, Any]) -> int:
    return (await client.post(f"{host(tenant)}/api/v1/auth/logout", headers=bearer(pair))).status_code


@pytest.mark.parametrize("sign_out", [sign_out_by_refresh_body, sign_out_by_access_token])
async def test_signing_out_ends_that_sessions_access_tokens_and_no_other(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, sign_out: Any
) -> None:
    tenant, other_tenant = await make_tenant(), await make_tenant()
    user = await make_member(make_user, tenant)
    stranger = await make_member(make_user, other_tenant)
    laptop = await sign_in(client, tenant, user.email)
    phone = await sign_in(client, tenant, user.email)
    elsewhere = await sign_in(client, other_tenant, stranger.email)
    me = f"{host(tenant)}/api/v1/me"
    assert (await client.get(me, headers=bearer(laptop))).status_code == 200

    assert await sign_out(client, tenant, laptop) == 200

    async def refused() -> bool:
        return (await client.get(me, headers=bearer(laptop))).status_code == 401

    await eventually(refused, timeout=LIMIT)
    answer = await client.get(me, headers=bearer(laptop))
    assert answer.json()["error"]["message"] == "this session has ended; sign in again"
    refresh = await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert refresh.status_code == 401
    # The same user's other device, and another tenant's user, are untouched.
    assert (await client.get(me, headers=bearer(phone))).status_code == 200
    assert (await client.get(f"{host(other_tenant)}/api/v1/me", headers=bearer(elsewhere))).status_code == 200


async def test_a_browser_signing_out_ends_a_copied_session_cookie(
    app: Litestar, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    """The cleared cookies are not the only protection: a copy of the session cookie dies too."""
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    base = secure_host(tenant)
    async with AsyncTestClient(app=app) as browser:
        pair = await sign_in(browser, tenant, user.email, base)
        csrf = browser.cookies.get("lms_csrf", domain=f"{tenant.slug}.lms.test")
        out = await browser.post(f"{base}/api/v1/auth/logout", headers={"X-CSRF-Token": csrf or ""})
        assert out.status_code == 200
    async with AsyncTestClient(app=app) as thief:

        async def refused() -> bool:
            return (await thief.get(f"{base}/api/v1/me", headers=bearer(pair))).status_code == 401

        await eventually(refused, timeout=LIMIT)


async def test_a_replayed_refresh_token_ends_the_whole_familys_access_tokens(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    stolen = await sign_in(client, tenant, user.email)
    other_device = await sign_in(client, tenant, user.email)
    refresh = f"{host(tenant)}/api/v1/auth/refresh"
    rotated = (await client.post(refresh, json={"refresh_token": stolen["refresh_token"]})).json()
    me = f"{host(tenant)}/api/v1/me"
    assert (await client.get(me, headers=bearer(rotated))).status_code == 200

    replay = await client.post(refresh, json={"refresh_token": stolen["refresh_token"]})
    assert replay.status_code == 401

    async def family_refused() -> bool:
        codes = {(await client.get(me, headers=bearer(pair))).status_code for pair in (stolen, rotated)}
        return codes == {401}

    await eventually(family_refused, timeout=LIMIT)
    assert (await client.get(me, headers=bearer(other_device))).status_code == 200


async def test_signing_out_with_an_unknown_or_foreign_refresh_token_ends_nothing(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant, other_tenant = await make_tenant(), await make_tenant()
    user = await make_member(make_user, tenant)
    pair = await sign_in(client, tenant, user.email)
    # Presented on another tenant's host, the refresh token is unknown there (RLS): nothing is revoked.
    for site, token in ((host(other_tenant), pair["refresh_token"]), (host(tenant), "rt_not-a-token")):
        out = await client.post(f"{site}/api/v1/auth/logout", json={"refresh_token": token})
        assert out.status_code == 200
    await client.post(f"{host(other_tenant)}/api/v1/auth/logout", headers=bearer(pair))
    assert (await client.get(f"{host(tenant)}/api/v1/me", headers=bearer(pair))).status_code == 200
    refresh = await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 200


async def test_the_session_revocation_function_reveals_recent_session_ids_and_instants_only(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    """app.recently_revoked_sessions is SECURITY DEFINER: it must not become a way to read tokens."""
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    ended, kept = await sign_in(client, tenant, user.email), await sign_in(client, tenant, user.email)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        families = {
            name: (
                await session.execute(
                    text("select family_id from refresh_tokens where token_hash = :h"),
                    {"h": token_hash(pair["refresh_token"])},
                )
            ).scalar_one()
            for name, pair in (("ended", ended), ("kept", kept))
        }
    now = datetime.now(UTC)
    await client.post(f"{host(tenant)}/api/v1/auth/logout", json={"refresh_token": ended["refresh_token"]})
    async with tenant_session(db.app_sessions, None) as session:
        query = text("select * from app.recently_revoked_sessions(:since)")
        recent = (await session.execute(query, {"since": now - timedelta(minutes=1)})).mappings().all()
        later = (await session.execute(query, {"since": datetime.now(UTC) + timedelta(seconds=1)})).all()
        visible_tokens = (await session.execute(text(f"select count(*) from {RefreshToken.__tablename__}"))).scalar()
    mine = [row for row in recent if row["session_id"] in families.values()]
    assert [(row["session_id"], set(row)) for row in mine] == [(families["ended"], {"session_id", "revoked_at"})]
    assert all(row.session_id != families["ended"] for row in later)
    assert visible_tokens == 0  # without a bound tenant the table itself stays invisible
