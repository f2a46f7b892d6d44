"""People protect their account with an authenticator app; a tenant can make that mandatory for staff."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pyotp
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import PASSWORD, make_member

Client = AsyncTestClient[Litestar]


def code_at(secret: str, steps_ahead: int) -> str:
    # Each code is accepted once; tests use neighbouring time steps (within the allowed drift).
    return pyotp.TOTP(secret).at(time.time() + steps_ahead * 30)


async def test_enrol_sign_in_with_code_and_recovery_code(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, tmp_path: Path
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    headers = await login(user)
    base = host(tenant)

    enrolment = (await client.post(f"{base}/api/v1/me/mfa/totp", headers=headers)).json()
    secret = enrolment["secret"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={secret}" in enrolment["otpauth_uri"]
    # The QR code an authenticator app scans carries exactly that URI (zbar-tools is a platform package).
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(enrolment["qr_png"].split(",", 1)[1]))
    scanner = await asyncio.create_subprocess_exec("zbarimg", "--raw", "-q", str(png), stdout=asyncio.subprocess.PIPE)
    scanned, _ = await scanner.communicate()
    assert scanned.decode().strip() == enrolment["otpauth_uri"]

    wrong = await client.post(f"{base}/api/v1/me/mfa/totp/confirm", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 401
    confirmed = await client.post(
        f"{base}/api/v1/me/mfa/totp/confirm", json={"code": code_at(secret, 0)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10

    url = f"{base}/api/v1/auth/login"
    credentials = {"email": user.email, "password": PASSWORD}
    no_code = await client.post(url, json=credentials)
    assert no_code.status_code == 401
    assert no_code.json()["error"]["code"] == "mfa_required"
    bad_code = await client.post(url, json={**credentials, "mfa_code": "123456"})
    assert bad_code.json()["error"]["code"] == "invalid_mfa_code"

    fresh = code_at(secret, 1)
    assert (await client.post(url, json={**credentials, "mfa_code": fresh})).status_code == 200
    replay = await client.post(url, json={**credentials, "mfa_code": fresh})
    assert replay.status_code == 401  # the same code cannot be used twice

    assert (await client.post(url, json={**credentials, "mfa_code": recovery[0]})).status_code == 200
    assert (await client.post(url, json={**credentials, "mfa_code": recovery[0]})).status_code == 401
    status = (await client.get(f"{base}/api/v1/me/mfa", headers=headers)).json()
    assert status == {"enabled": True, "required": False, "recovery_codes_left": 9}


async def test_tenant_requires_mfa_for_staff(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    base = host(tenant)
    admin_headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    policy = await client.put(
        f"{base}/api/v1/identity/settings", json={"mfa_required_for_staff": True}, headers=admin_headers
    )
    assert policy.json() == {"mfa_required_for_staff": True}

    learner = await make_member(make_user, tenant, roles=["learner"])
    assert (
        await client.post(f"{base}/api/v1/auth/login", json={"email": learner.email, "password": PASSWORD})
    ).status_code == 200

    instructor = await make_member(make_user, tenant, roles=["instructor"])
    refused = await client.post(f"{base}/api/v1/auth/login", json={"email": instructor.email, "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_enrolment_required"
    token = refused.json()["enrolment_token"]
    assert "access_token" not in refused.json()

    enrolment = (await client.post(f"{base}/api/v1/auth/mfa/enrol", json={"enrolment_token": token})).json()
    done = await client.post(
        f"{base}/api/v1/auth/mfa/enrol/confirm",
        json={"enrolment_token": token, "code": code_at(enrolment["secret"], 0)},
    )
    assert done.status_code == 200, done.text
    assert len(done.json()["recovery_codes"]) == 10
    staff_headers = {"Authorization": f"Bearer {done.json()['access_token']}"}
    me = await client.get(f"{base}/api/v1/me", headers=staff_headers)
    assert me.json()["email"] == instructor.email
    disable = await client.post(
        f"{base}/api/v1/me/mfa/disable", json={"code": code_at(enrolment["secret"], 1)}, headers=staff_headers
    )
    assert disable.status_code == 409

    # The enrolment token is spent, and only admins change the policy.
    again = await client.post(f"{base}/api/v1/auth/mfa/enrol", json={"enrolment_token": token})
    assert again.status_code == 400
    assert (
        await client.put(
            f"{base}/api/v1/identity/settings", json={"mfa_required_for_staff": False}, headers=staff_headers
        )
    ).status_code == 403


@pytest.mark.parametrize("code", ["12345", "abcdef"])
async def test_malformed_codes_name_the_field(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, code: str
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant))
    await client.post(f"{host(tenant)}/api/v1/me/mfa/totp", headers=headers)
    response = await client.post(f"{host(tenant)}/api/v1/me/mfa/totp/confirm", json={"code": code}, headers=headers)
    assert response.status_code in (401, 422)
    assert response.json()["error"]["field"] == "code"


async def test_guessing_codes_with_a_known_password_locks_the_account(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    headers = await login(user)
    base = host(tenant)
    secret = (await client.post(f"{base}/api/v1/me/mfa/totp", headers=headers)).json()["secret"]
    await client.post(f"{base}/api/v1/me/mfa/totp/confirm", json={"code": code_at(secret, 0)}, headers=headers)

    credentials = {"email": user.email, "password": PASSWORD}
    for guess in ("111111", "222222", "333333", "444444", "555555"):
        wrong = await client.post(f"{base}/api/v1/auth/login", json={**credentials, "mfa_code": guess})
        assert wrong.status_code == 401
    locked = await client.post(f"{base}/api/v1/auth/login", json={**credentials, "mfa_code": code_at(secret, 1)})
    assert locked.status_code == 429
