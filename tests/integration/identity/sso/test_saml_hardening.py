"""SAML cannot be forged: logout messages must come signed from the tenant's IdP and end only its sessions;
malformed messages get a 4xx page; URLs match exactly; RelayState is bounded; a pending sign-in is spent
only by a valid answer, delivered to the browser that started it."""

from __future__ import annotations

import tempfile
import uuid
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree

from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeUser
from tests.idp.saml_idp import (
    SamlIdentityProvider,
    forged_logout_request,
    hidden_fields,
    idp_logout_request_url,
    malformed_post_messages,
    malformed_redirect_messages,
    metadata_without_single_logout,
    with_response_destination,
)
from tests.integration.identity.conftest import post_acs
from tests.integration.identity.helpers import PASSWORD, make_member, secure_host

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html,application/xhtml+xml"}


@asynccontextmanager
async def another_browser(client: Client) -> AsyncIterator[Client]:
    """The same app seen from a browser with no cookies (the client's own jar is put back after)."""
    own = client.cookies
    client.cookies = httpx.Cookies()
    try:
        yield client
    finally:
        client.cookies = own


async def saml_session(client: Client, site: dict[str, Any], idp: SamlIdentityProvider, email: str) -> str:
    """Sign `email` in through the IdP (IdP-initiated); returns the session's refresh token."""
    response = idp.response(email, None, site["acs_url"], site["sp_metadata_url"])
    signed_in = await post_acs(client, site["acs_url"], response, "/")
    assert signed_in.status_code == 303, signed_in.text
    return str(signed_in.cookies["lms_refresh"])


async def password_session(client: Client, base: str, email: str) -> str:
    async with another_browser(client) as browser:
        answer = await browser.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["refresh_token"])


async def refresh_works(client: Client, base: str, refresh_token: str) -> bool:
    async with another_browser(client) as browser:
        answer = await browser.post(f"{base}/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    return answer.status_code == 200


async def allow_linking(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider, headers: dict[str, str]
) -> None:
    updated = await client.put(
        f"{site['base']}/api/v1/sso/providers/{site['id']}/saml",
        json={
            "name": "Acme SAML",
            "metadata_url": f"{idp.base_url}/metadata",
            "email_domains": ["acme.com"],
            "trust_unverified_email": True,
            "link_by_verified_email": True,
            "attribute_mapping": {"email": "urn:mace:dir:attribute-def:email"},
        },
        headers=headers,
    )
    assert updated.status_code == 200, updated.text


@pytest.fixture(scope="module")
async def shared_site(
    client: Client, shared_tenant: tuple[Tenant, dict[str, str]], idp: SamlIdentityProvider
) -> dict[str, Any]:
    """A SAML provider (metadata uploaded, so no fetch) in the module's shared tenant."""
    tenant, headers = shared_tenant
    created = await client.post(
        f"{secure_host(tenant)}/api/v1/sso/providers/saml",
        json={"name": f"Shared SAML {uuid.uuid4().hex[:6]}", "metadata_xml": idp.metadata()},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return {"tenant": tenant, "base": secure_host(tenant), **created.json()}


def sls(site: dict[str, Any]) -> str:
    return f"{site['base']}/auth/saml/{site['id']}/sls"


async def test_forged_logout_requests_end_no_session(
    app: Litestar,
    client: Client,
    site: dict[str, Any],
    idp: SamlIdentityProvider,
    make_user: MakeUser,
) -> None:
    # A tenant admin signed in with a password, and someone signed in through the IdP.
    admin = await make_member(make_user, site["tenant"], roles=["tenant_admin"], email="boss@acme.com")
    admin_refresh = await password_session(client, site["base"], admin.email)
    eve_refresh = await saml_session(client, site, idp, "eve@acme.com")
    idp_entity = f"{idp.base_url}/metadata"
    with tempfile.TemporaryDirectory() as directory:
        # Same entity id, another key: what an attacker who copied the metadata could sign with.
        impostor = SamlIdentityProvider(idp.base_url, Path(directory))
        impostor.trust_sp((await client.get(site["sp_metadata_url"])).text)
        impostor_url = idp_logout_request_url(impostor, sls(site), site["sp_metadata_url"], "eve@acme.com")
    other_sls = f"{site['base']}/auth/saml/{uuid.uuid4()}/sls"
    forgeries = {
        "unsigned, no Issuer, no Destination": f"{sls(site)}?"
        + urlencode({"SAMLRequest": forged_logout_request("eve@acme.com")}),
        "unsigned, right Issuer and Destination": f"{sls(site)}?"
        + urlencode({"SAMLRequest": forged_logout_request("eve@acme.com", idp_entity, sls(site))}),
        "unsigned, for the admin": f"{sls(site)}?"
        + urlencode({"SAMLRequest": forged_logout_request(admin.email, idp_entity, sls(site))}),
        "signed by another key": impostor_url,
        "signed, addressed elsewhere": idp_logout_request_url(
            idp, sls(site), site["sp_metadata_url"], "eve@acme.com", destination=other_sls
        ),
        "signed, addressed to a longer URL": idp_logout_request_url(
            idp, sls(site), site["sp_metadata_url"], "eve@acme.com", destination=sls(site) + "2"
        ),
    }
    for name, url in forgeries.items():
        answer = await client.get(url, follow_redirects=False)
        assert answer.status_code == 403, f"{name}: {answer.status_code} {answer.text}"
    assert await refresh_works(client, site["base"], admin_refresh)
    assert await refresh_works(client, site["base"], eve_refresh)


async def test_idp_logout_ends_only_the_sessions_started_through_it(
    app: Litestar,
    client: Client,
    site: dict[str, Any],
    idp: SamlIdentityProvider,
    make_user: MakeUser,
    login: Login,
) -> None:
    headers = await login(await make_user(site["tenant"], roles=["tenant_admin"]))
    await allow_linking(client, site, idp, headers)
    # The same person has a password session and, through the IdP, a single sign-on session.
    person = await make_member(make_user, site["tenant"], email="ada@acme.com")
    password_refresh = await password_session(client, site["base"], person.email)
    sso_refresh = await saml_session(client, site, idp, person.email)

    answer = await client.get(
        idp_logout_request_url(idp, sls(site), site["sp_metadata_url"], person.email), follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"{idp.base_url}/slo?SAMLResponse=")
    assert not await refresh_works(client, site["base"], sso_refresh)
    assert await refresh_works(client, site["base"], password_refresh)


@pytest.mark.parametrize("parameter", ["SAMLRequest", "SAMLResponse"])
@pytest.mark.parametrize("case", sorted(malformed_redirect_messages()))
async def test_malformed_logout_messages_get_a_400_page(
    client: Client, shared_site: dict[str, Any], parameter: str, case: str
) -> None:
    value = malformed_redirect_messages()[case]
    answer = await client.get(
        f"{sls(shared_site)}?{urlencode({parameter: value})}", headers=HTML, follow_redirects=False
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "could not be read" in answer.text
    assert "<html" in answer.text


@pytest.mark.parametrize("case", sorted(malformed_post_messages()))
async def test_malformed_responses_get_a_400(client: Client, shared_site: dict[str, Any], case: str) -> None:
    answer = await post_acs(client, shared_site["acs_url"], malformed_post_messages()[case], "/")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "sso_malformed"


async def test_logout_without_a_single_logout_service_is_a_400(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider, make_user: MakeUser, login: Login
) -> None:
    headers = await login(await make_user(site["tenant"], roles=["tenant_admin"]))
    created = await client.post(
        f"{site['base']}/api/v1/sso/providers/saml",
        json={"name": "No SLO", "metadata_xml": metadata_without_single_logout(idp.metadata())},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    url = idp_logout_request_url(
        idp, created.json()["acs_url"].replace("/acs", "/sls"), created.json()["sp_metadata_url"], "eve@acme.com"
    )
    answer = await client.get(url, headers=HTML, follow_redirects=False)
    assert answer.status_code == 400, answer.text
    assert "no single logout service" in answer.text


async def test_destination_and_recipient_must_match_exactly(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    acs, audience = site["acs_url"], site["sp_metadata_url"]
    longer = acs + "2"
    cases = {
        "Destination": with_response_destination(idp.response("eve@acme.com", None, acs, audience), longer),
        # Recipient (inside the signed assertion) names the longer URL; the Destination was put right.
        "Recipient": with_response_destination(idp.response("eve@acme.com", None, longer, audience), acs),
    }
    for name, saml_response in cases.items():
        answer = await post_acs(client, acs, saml_response, "/")
        assert answer.status_code == 403, f"{name}: {answer.text}"
        assert "lms_session" not in answer.headers.get("set-cookie", "")


async def test_huge_relay_state_is_not_echoed(client: Client, site: dict[str, Any], idp: SamlIdentityProvider) -> None:
    response = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    # Under the edge's body limit: the site goes home instead of echoing the RelayState.
    answer = await post_acs(client, site["acs_url"], response, "/" + "a" * 500_000)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    # Past it (5 MB): refused before any SAML processing, and nothing is echoed either.
    too_big = await post_acs(client, site["acs_url"], response, "/" + "a" * 5_000_000)
    assert too_big.status_code == 413
    assert "location" not in too_big.headers
    url = idp_logout_request_url(
        idp, sls(site), site["sp_metadata_url"], "eve@acme.com", relay_state="/" + "a" * 10_000
    )
    refused = await client.get(url, follow_redirects=False)
    assert refused.status_code == 400, refused.text
    assert len(refused.headers.get("location", "")) == 0


async def start_sign_in(browser: Client, site: dict[str, Any], idp: SamlIdentityProvider, email: str) -> dict[str, str]:
    """The browser starts at the site; the person signs in at the IdP; the IdP's auto-post form."""
    start = await browser.get(site["login_url"], params={"next": "/courses/1"}, follow_redirects=False)
    assert start.status_code in (302, 303)
    async with httpx.AsyncClient() as at_idp:
        page = await at_idp.post(start.headers["location"], data={"username": email, "password": "pw-eve"})
    return hidden_fields(page.text)


async def test_an_invalid_answer_does_not_cancel_a_pending_sign_in(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    form = await start_sign_in(client, site, idp, "eve@acme.com")
    pending = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"], sign_assertion=False)
    # An attacker who learnt the request id answers it with something unsigned.
    in_response_to = _in_response_to(form["SAMLResponse"])
    forged = _answering(pending, in_response_to)
    refused = await post_acs(client, site["acs_url"], forged, "/")
    assert refused.status_code == 403
    finished = await post_acs(client, form["_action"], form["SAMLResponse"], form["RelayState"])
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/courses/1"


async def test_sign_in_started_in_one_browser_cannot_finish_in_another(
    app: Litestar, client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    form = await start_sign_in(client, site, idp, "eve@acme.com")
    async with another_browser(client) as stranger:
        refused = await post_acs(stranger, form["_action"], form["SAMLResponse"], form["RelayState"])
    assert refused.status_code == 403
    assert "another browser" in refused.json()["error"]["message"]
    finished = await post_acs(client, form["_action"], form["SAMLResponse"], form["RelayState"])
    assert finished.status_code == 303, finished.text


async def test_unvouched_addresses_neither_create_nor_link_accounts(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider, make_user: MakeUser, login: Login
) -> None:
    headers = await login(await make_user(site["tenant"], roles=["tenant_admin"]))
    # A provider that neither marks addresses verified nor is trusted with them.
    updated = await client.put(
        f"{site['base']}/api/v1/sso/providers/{site['id']}/saml",
        json={"name": "Acme SAML", "metadata_url": f"{idp.base_url}/metadata", "link_by_verified_email": True},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    await make_member(make_user, site["tenant"], roles=["tenant_admin"], email="ada@acme.com")
    for email in ("eve@acme.com", "ada@acme.com"):
        response = idp.response(email, None, site["acs_url"], site["sp_metadata_url"])
        refused = await post_acs(client, site["acs_url"], response, "/")
        assert refused.status_code == 403, refused.text
        assert "did not confirm" in refused.json()["error"]["message"]


async def test_trusted_provider_links_only_when_linking_is_allowed(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider, make_user: MakeUser, login: Login
) -> None:
    await make_member(make_user, site["tenant"], roles=["tenant_admin"], email="ada@acme.com")
    response = idp.response("ada@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    refused = await post_acs(client, site["acs_url"], response, "/")
    assert refused.status_code == 403
    assert "may not sign in to it" in refused.json()["error"]["message"]

    headers = await login(await make_user(site["tenant"], roles=["tenant_admin"]))
    await allow_linking(client, site, idp, headers)
    response = idp.response("ada@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    linked = await post_acs(client, site["acs_url"], response, "/")
    assert linked.status_code == 303, linked.text
    me = (await client.get(f"{site['base']}/api/v1/me")).json()
    # Roles granted by hand survive the IdP's group mapping.
    assert "tenant_admin" in me["roles"]


def _in_response_to(saml_response: str) -> str:
    value = etree.fromstring(b64decode(saml_response)).get("InResponseTo")
    assert value
    return str(value)


def _answering(saml_response: str, request_id: str) -> str:
    """The same response claiming to answer `request_id`."""
    document = etree.fromstring(b64decode(saml_response))
    document.set("InResponseTo", request_id)
    for confirmation in document.iter("{urn:oasis:names:tc:SAML:2.0:assertion}SubjectConfirmationData"):
        confirmation.set("InResponseTo", request_id)
    return b64encode(etree.tostring(document)).decode()
