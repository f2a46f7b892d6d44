"""Shared arrange steps for the SSO tests: a running SAML IdP and OpenID provider, trusted on loopback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.tenancy.models import Plan, Tenant
from lms.tenancy.services import Actor, TenantAdmin
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.idp.oidc_provider import OpenIDProvider, running_openid_provider
from tests.idp.saml_idp import SamlIdentityProvider, running_saml_idp
from tests.integration.identity.helpers import secure_host

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
def idp() -> Iterator[SamlIdentityProvider]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("saml2").setLevel(logging.ERROR)
    with running_saml_idp() as running:
        running.add_person("ada@acme.com", "pw-ada", "Ada Lovelace", ["lms-instructors"])
        running.add_person("eve@acme.com", "pw-eve", "Eve")
        yield running


@pytest.fixture
def trusts_local_idp(app: Litestar, idp: SamlIdentityProvider) -> Iterator[None]:
    original = app.state.settings
    app.state.settings = replace(original, sso_allow_private_hosts=frozenset({idp.base_url.removeprefix("http://")}))
    yield
    app.state.settings = original


async def configure(
    client: Client, tenant: Tenant, headers: dict[str, str], idp: SamlIdentityProvider
) -> dict[str, Any]:
    created = await client.post(
        f"{secure_host(tenant)}/api/v1/sso/providers/saml",
        json={
            "name": "Acme SAML",
            "metadata_url": f"{idp.base_url}/metadata",
            "email_domains": ["acme.com"],
            # The IdP is the company directory: its addresses are the company's.
            "trust_unverified_email": True,
            # pysaml2 names attributes after the MACE-Dir schema, as many IdPs do.
            "attribute_mapping": {
                "email": "urn:mace:dir:attribute-def:email",
                "name": "urn:mace:dir:attribute-def:displayName",
                "groups": "groups",
                "group_roles": {"lms-instructors": "instructor"},
            },
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    config = created.json()
    metadata = await client.get(config["sp_metadata_url"])
    assert metadata.status_code == 200
    assert "AssertionConsumerService" in metadata.text
    idp.trust_sp(metadata.text)
    return config


@pytest.fixture
async def site(
    client: Client,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    idp: SamlIdentityProvider,
    trusts_local_idp: None,
) -> dict[str, Any]:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    config = await configure(client, tenant, headers, idp)
    return {"tenant": tenant, "base": secure_host(tenant), **config}


async def post_acs(client: Client, acs: str, saml_response: str, relay: str = "") -> httpx.Response:
    return await client.post(acs, data={"SAMLResponse": saml_response, "RelayState": relay}, follow_redirects=False)


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIDProvider]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with running_openid_provider() as op:
        yield op


@pytest.fixture
def trusts_local_provider(app: Litestar, provider: OpenIDProvider) -> Iterator[None]:
    """The provider runs on loopback, which the platform refuses unless explicitly allowed."""
    original = app.state.settings
    host_port = provider.issuer.removeprefix("http://")
    app.state.settings = replace(original, sso_allow_private_hosts=frozenset({host_port}), public_scheme="https")
    yield
    app.state.settings = original


@pytest.fixture(scope="module")
async def shared_tenant(db: Database, settings: Settings, key_ring: KeyRing) -> tuple[Tenant, dict[str, str]]:
    """One tenant and its admin's headers for a module's parametrised cases (not one tenant per case)."""
    async with db.operator_sessions() as session, session.begin():
        admin_service = TenantAdmin(session, Actor(name="test"), settings.public_base_domain)
        tenant = await admin_service.create(f"t-{uuid.uuid4().hex[:10]}", "Shared Co", Plan.ENTERPRISE, 10, None)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        admin = await factories.identity.make_user(session, tenant.id, roles=["tenant_admin"])
    token = await issue_access_token(key_ring, admin.id, tenant.id, ["tenant_admin"], 3600)
    return tenant, {"Authorization": f"Bearer {token}"}
