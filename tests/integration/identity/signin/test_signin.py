"""People sign in with a password; sessions rotate, expire and end; attackers are slowed down and locked out."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import redis_client
from lms.config import Settings
from lms.db.engines import Database
from lms.identity.signin.services.throttle import SignInThrottle
from lms.lib.errors import RateLimited
from tests.conftest import MakeTenant, MakeUser, host
from tests.integration.identity.helpers import PASSWORD, link_token, make_member, outbox, secure_host

Client = AsyncTestClient[Litestar]


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    first = (
        await client.post(f"{host(tenant)}/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).json()

    second = await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()["refresh_token"]
    assert rotated != first["refresh_token"]
    me = await client.get(
        f"{host(tenant)}/api/v1/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert me.status_code == 200

    # The old token comes back (stolen and replayed): refused, and the legitimate newer one dies too.
    replay = await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]["message"]
    assert (
        await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": rotated})
    ).status_code == 401


async def test_refresh_token_of_one_tenant_is_unknown_on_another(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    user = await make_member(make_user, tenant)
    pair = (
        await client.post(f"{host(tenant)}/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).json()
    response = await client.post(f"{host(other)}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 401


async def test_repeated_wrong_passwords_lock_the_account(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    url = f"{host(tenant)}/api/v1/auth/login"
    for _ in range(5):
        wrong = await client.post(url, json={"email": user.email, "password": "wrong password entirely"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["message"] == "e-mail or password is incorrect"
    locked = await client.post(url, json={"email": user.email.upper(), "password": PASSWORD})
    assert locked.status_code == 429
    assert "temporarily locked" in locked.json()["error"]["message"]


async def test_unknown_accounts_and_wrong_passwords_look_the_same(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    url = f"{host(tenant)}/api/v1/auth/login"
    unknown = await client.post(url, json={"email": "nobody@example.com", "password": PASSWORD})
    wrong = await client.post(url, json={"email": user.email, "password": PASSWORD + "x"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_many_failures_from_one_address_are_rate_limited(settings: Settings) -> None:
    redis = redis_client(settings.redis_url or "")
    throttle = SignInThrottle(redis, uuid.uuid4(), namespace=settings.celery_queue, ip_limit=4)
    ip = f"203.0.113.{uuid.uuid4().int % 250}"
    for n in range(4):
        await throttle.check(f"victim-{n}@example.com", ip)
        await throttle.record_failure(f"victim-{n}@example.com", ip)
    try:
        with pytest.raises(RateLimited, match="from this network"):
            await throttle.check("someone-new@example.com", ip)
    finally:
        await redis.aclose()


async def test_browser_session_cookies_are_host_only_secure_and_csrf_protected(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant, roles=["tenant_admin"])
    base = secure_host(tenant)
    response = await client.post(f"{base}/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    set_cookies = response.headers.get_list("set-cookie")
    by_name = {c.split("=", 1)[0]: c.lower() for c in set_cookies}
    for name in ("lms_session", "lms_refresh"):
        assert "httponly" in by_name[name]
        assert "secure" in by_name[name]
        assert "samesite=lax" in by_name[name]
        assert "domain=" not in by_name[name]  # host-only: never sent to another tenant's host
    assert "httponly" not in by_name["lms_csrf"]
    assert "path=/api/v1/auth" in by_name["lms_refresh"]

    # A cookie alone reads; writes need the CSRF header too.
    assert (await client.get(f"{base}/api/v1/me")).status_code == 200
    payload = {"email": "new@example.com", "display_name": "New", "send_invitation": False}
    forged = await client.post(f"{base}/api/v1/users", json=payload)
    assert forged.status_code == 403
    csrf = client.cookies.get("lms_csrf", domain=f"{tenant.slug}.lms.test")
    assert csrf
    allowed = await client.post(f"{base}/api/v1/users", json=payload, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 201

    # The session cookies are not presented to another tenant's site.
    other = await make_tenant()
    assert (await client.get(f"{secure_host(other)}/api/v1/me")).status_code == 401

    assert (await client.post(f"{base}/api/v1/auth/refresh")).status_code == 403
    refreshed = await client.post(f"{base}/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200
    csrf = client.cookies.get("lms_csrf", domain=f"{tenant.slug}.lms.test")
    out = await client.post(f"{base}/api/v1/auth/logout", headers={"X-CSRF-Token": csrf or ""})
    assert out.status_code == 200
    assert (await client.get(f"{base}/api/v1/me")).status_code == 401


async def test_password_reset_link_is_single_use_and_ends_other_sessions(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    old = (
        await client.post(f"{host(tenant)}/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).json()
    unknown = await client.post(f"{host(tenant)}/api/v1/auth/password-reset", json={"email": "ghost@example.com"})
    known = await client.post(f"{host(tenant)}/api/v1/auth/password-reset", json={"email": user.email})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    [mail] = await outbox(db, tenant, user.email)
    token = link_token(mail)

    other = await make_tenant()
    elsewhere = await client.post(
        f"{host(other)}/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a brand new passphrase"}
    )
    assert elsewhere.status_code == 400  # links are bound to the tenant that issued them

    confirm = await client.post(
        f"{host(tenant)}/api/v1/auth/password-reset/confirm",
        json={"token": token, "password": "a brand new passphrase"},
    )
    assert confirm.status_code == 200
    reused = await client.post(
        f"{host(tenant)}/api/v1/auth/password-reset/confirm",
        json={"token": token, "password": "another new passphrase"},
    )
    assert reused.json()["error"]["code"] == "invalid_link"
    refresh = await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert refresh.status_code == 401
    login = await client.post(
        f"{host(tenant)}/api/v1/auth/login", json={"email": user.email, "password": "a brand new passphrase"}
    )
    assert login.status_code == 200


async def test_sso_required_disables_passwords_and_tells_nothing_about_them(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    """A right password, a wrong one and an unknown account get the same answer: an SSO-only site
    cannot be used to test passwords."""
    tenant = await make_tenant(settings={"sso": {"required": True}})
    user = await make_member(make_user, tenant)
    attempts = [(user.email, PASSWORD), (user.email, "a wrong password"), ("nobody@example.com", PASSWORD)]
    answers = []
    for email, password in attempts:
        response = await client.post(f"{host(tenant)}/api/v1/auth/login", json={"email": email, "password": password})
        answers.append((response.status_code, response.json()))
    assert answers[0][0] == 403
    assert "single sign-on" in answers[0][1]["error"]["message"]
    assert all(answer == answers[0] for answer in answers)
    assert "access_token" not in answers[0][1]


async def test_password_reset_emails_are_limited_per_account(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    for _ in range(5):
        answer = await client.post(f"{host(tenant)}/api/v1/auth/password-reset", json={"email": user.email})
        assert answer.status_code == 202
    assert len(await outbox(db, tenant, user.email)) == 3


async def test_signed_in_user_changes_password_and_other_sessions_end(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    url = f"{host(tenant)}/api/v1/auth/login"
    other = (await client.post(url, json={"email": user.email, "password": PASSWORD})).json()
    here = (await client.post(url, json={"email": user.email, "password": PASSWORD})).json()
    headers = {"Authorization": f"Bearer {here['access_token']}"}
    change = f"{host(tenant)}/api/v1/me/password"
    wrong = await client.post(change, json={"current_password": "nope", "new_password": "x" * 20}, headers=headers)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["field"] == "current_password"
    weak = await client.post(change, json={"current_password": PASSWORD, "new_password": "short"}, headers=headers)
    assert weak.json()["error"]["field"] == "new_password"
    done = await client.post(
        change, json={"current_password": PASSWORD, "new_password": "an entirely new passphrase"}, headers=headers
    )
    assert done.status_code == 200
    refresh = f"{host(tenant)}/api/v1/auth/refresh"
    assert (await client.post(refresh, json={"refresh_token": other["refresh_token"]})).status_code == 401
    assert (await client.post(refresh, json={"refresh_token": done.json()["refresh_token"]})).status_code == 200
    assert (await client.post(url, json={"email": user.email, "password": PASSWORD})).status_code == 401
