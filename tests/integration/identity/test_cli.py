"""An operator gives a new tenant its first admin: `lms users invite` prints a working invitation link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import click
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.cli import _invite_user
from lms.config import Settings
from tests.conftest import MakeTenant, host
from tests.integration.identity.helpers import PASSWORD

Client = AsyncTestClient[Litestar]


async def test_invite_first_admin_from_the_command_line(
    client: Client, settings: Settings, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    link = await _invite_user(settings, tenant.slug, "boss@acme.com", "The Boss", ["tenant_admin"])
    assert f"{tenant.slug}.lms.test/accept-invitation?token=" in link
    token = parse_qs(urlsplit(link).query)["token"][0]
    accepted = await client.post(
        f"{host(tenant)}/api/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    users = await client.get(
        f"{host(tenant)}/api/v1/users", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"}
    )
    assert users.status_code == 200  # the new account holds tenant_admin

    with pytest.raises(click.ClickException, match="already exists"):
        await _invite_user(settings, tenant.slug, "BOSS@acme.com", "Again", ["learner"])
    with pytest.raises(click.BadParameter):
        await _invite_user(settings, "no-such-tenant", "x@acme.com", "X", ["learner"])
    with pytest.raises(click.BadParameter):
        await _invite_user(settings, tenant.slug, "x@acme.com", "X", ["superuser"])
