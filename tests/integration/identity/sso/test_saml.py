"""Staff sign in through their company's SAML IdP (pysaml2, running locally); forged responses are refused."""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree

from tests.conftest import Login, MakeTenant, MakeUser
from tests.idp.saml_idp import SamlIdentityProvider, hidden_fields, idp_logout_request_url
from tests.integration.identity.conftest import configure, post_acs
from tests.integration.identity.helpers import secure_host

Client = AsyncTestClient[Litestar]
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DSIG = "http://www.w3.org/2000/09/xmldsig#"


async def test_sp_initiated_sign_in_end_to_end(client: Client, site: dict[str, Any], idp: SamlIdentityProvider) -> None:
    start = await client.get(site["login_url"], params={"next": "/courses/7"}, follow_redirects=False)
    assert start.status_code in (302, 303)
    assert start.headers["location"].startswith(f"{idp.base_url}/sso?SAMLRequest=")
    async with httpx.AsyncClient() as browser:
        page = await browser.post(start.headers["location"], data={"username": "ada@acme.com", "password": "pw-ada"})
    form = hidden_fields(page.text)
    assert form["_action"] == site["acs_url"]

    finished = await post_acs(client, form["_action"], form["SAMLResponse"], form["RelayState"])
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/courses/7"
    me = (await client.get(f"{site['base']}/api/v1/me")).json()
    assert me["email"] == "ada@acme.com"
    assert me["display_name"] == "Ada Lovelace"
    assert me["roles"] == ["instructor", "learner"]

    # The same response again: its request was answered and its assertion id is spent.
    assert (await post_acs(client, form["_action"], form["SAMLResponse"], form["RelayState"])).status_code == 403


async def test_idp_initiated_sign_in_and_assertion_replay(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    sp_entity = site["sp_metadata_url"]
    response = idp.response("eve@acme.com", None, site["acs_url"], sp_entity)
    first = await post_acs(client, site["acs_url"], response, "/catalog")
    assert first.status_code == 303, first.text
    assert first.headers["location"] == "/catalog"
    replayed = await post_acs(client, site["acs_url"], response, "/catalog")
    assert replayed.status_code == 403
    assert "already used" in replayed.json()["error"]["message"]


async def test_relay_state_to_another_host_goes_home(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    response = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    result = await post_acs(client, site["acs_url"], response, "https://evil.example/phish")
    assert result.status_code == 303
    assert result.headers["location"] == "/"
    response = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    result = await post_acs(client, site["acs_url"], response, "//evil.example/phish")
    assert result.headers["location"] == "/"


def _decode(saml_response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_response))


def _encode(document: etree._Element) -> str:
    return base64.b64encode(etree.tostring(document)).decode()


async def test_forged_responses_are_refused(client: Client, site: dict[str, Any], idp: SamlIdentityProvider) -> None:
    acs, audience = site["acs_url"], site["sp_metadata_url"]

    unsigned = idp.response("eve@acme.com", None, acs, audience, sign_assertion=False)

    tampered_doc = _decode(idp.response("eve@acme.com", None, acs, audience))
    name_id = tampered_doc.find(f".//{{{SAML}}}NameID")
    assert name_id is not None
    name_id.text = "ada@acme.com"
    tampered = _encode(tampered_doc)

    # Signature wrapping: the signed assertion is kept (nested, so its signature still verifies)
    # while an unsigned copy naming someone else takes its place.
    wrapped_doc = _decode(idp.response("eve@acme.com", None, acs, audience))
    signed = wrapped_doc.find(f"{{{SAML}}}Assertion")
    assert signed is not None
    evil = copy.deepcopy(signed)
    evil.set("ID", f"_{uuid.uuid4().hex}")
    for signature in evil.findall(f"{{{DSIG}}}Signature"):
        evil.remove(signature)
    evil_name = evil.find(f".//{{{SAML}}}NameID")
    assert evil_name is not None
    evil_name.text = "ada@acme.com"
    wrapped_doc.replace(signed, evil)
    evil.append(signed)
    wrapped = _encode(wrapped_doc)

    other_acs = f"{site['base']}/auth/saml/{uuid.uuid4()}/acs"
    cases = {
        "not signed": unsigned,
        "Signature validation failed": tampered,
        "must contain 1 assertion": wrapped,
        "not a valid audience": idp.response("eve@acme.com", None, acs, "https://other-sp.example.com/metadata"),
        "was received at": idp.response("eve@acme.com", None, other_acs, audience),
        "expired": idp.response("eve@acme.com", None, acs, audience, lifetime_minutes=-10),
        "Deprecated signature algorithm": idp.response("eve@acme.com", None, acs, audience, sha1=True),
    }
    for reason, saml_response in cases.items():
        result = await post_acs(client, acs, saml_response, "/")
        assert result.status_code == 403, f"{reason}: {result.status_code} {result.text}"
        assert reason in result.json()["error"]["message"]
        assert "lms_session" not in result.headers.get("set-cookie", ""), reason


async def test_response_for_another_tenant_is_refused(
    client: Client,
    site: dict[str, Any],
    idp: SamlIdentityProvider,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
) -> None:
    other = await make_tenant()
    other_config = await configure(client, other, await login(await make_user(other, roles=["tenant_admin"])), idp)
    # A valid response for tenant A's SP, posted to tenant B's ACS.
    response = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    assert (await post_acs(client, other_config["acs_url"], response, "/")).status_code == 403


async def test_metadata_url_into_private_networks_is_refused(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    for url in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:9/metadata", "http://[::1]/m"):
        response = await client.post(
            f"{secure_host(tenant)}/api/v1/sso/providers/saml",
            json={"name": "Internal", "metadata_url": url},
            headers=headers,
        )
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["field"] == "metadata_url"


async def test_single_logout_ends_the_session_and_tells_the_idp(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    response = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    assert (await post_acs(client, site["acs_url"], response, "/")).status_code == 303
    host = site["base"].removeprefix("https://")
    csrf = client.cookies.get("lms_csrf", domain=host)
    out = await client.post(
        f"{site['base']}/auth/saml/{site['id']}/logout", headers={"X-CSRF-Token": csrf or ""}, follow_redirects=False
    )
    assert out.status_code == 303, out.text
    assert out.headers["location"].startswith(f"{idp.base_url}/slo?SAMLRequest=")
    assert (await client.get(f"{site['base']}/api/v1/me")).status_code == 401


async def test_idp_initiated_logout_ends_the_sessions_that_person_started_here(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider
) -> None:
    response = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    signed_in = await post_acs(client, site["acs_url"], response, "/")
    assert signed_in.status_code == 303
    sls = f"{site['base']}/auth/saml/{site['id']}/sls"
    url = idp_logout_request_url(idp, sls, site["sp_metadata_url"], "eve@acme.com")
    answer = await client.get(url, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"{idp.base_url}/slo?SAMLResponse=")
    # The refresh cookie set at sign-in no longer works anywhere.
    host = site["base"].removeprefix("https://")
    csrf = client.cookies.get("lms_csrf", domain=host) or ""
    refreshed = await client.post(f"{site['base']}/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 401


async def test_idp_metadata_can_be_uploaded_as_xml(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, idp: SamlIdentityProvider
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    created = await client.post(
        f"{secure_host(tenant)}/api/v1/sso/providers/saml",
        json={"name": "Uploaded", "metadata_xml": idp.metadata()},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["idp"]["entityId"] == f"{idp.base_url}/metadata"
    broken = await client.post(
        f"{secure_host(tenant)}/api/v1/sso/providers/saml",
        json={"name": "Broken", "metadata_xml": "<not-metadata/>"},
        headers=headers,
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["field"] == "metadata_xml"


async def test_admin_cannot_see_or_change_another_tenants_providers(
    client: Client, site: dict[str, Any], make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    other = await make_tenant()
    other_headers = await login(await make_user(other, roles=["tenant_admin"]))
    base = secure_host(other)
    assert (await client.get(f"{base}/api/v1/sso/providers/{site['id']}", headers=other_headers)).status_code == 404
    assert (await client.delete(f"{base}/api/v1/sso/providers/{site['id']}", headers=other_headers)).status_code == 404
    assert (await client.get(f"{base}/api/v1/sso/providers", headers=other_headers)).json()["items"] == []
    assert (await client.get(f"{base}/auth/saml/{site['id']}/metadata")).status_code == 404


async def test_idp_initiated_sign_in_can_be_switched_off(
    client: Client, site: dict[str, Any], idp: SamlIdentityProvider, login: Login, make_user: MakeUser
) -> None:
    headers = await login(await make_user(site["tenant"], roles=["tenant_admin"]))
    updated = await client.put(
        f"{site['base']}/api/v1/sso/providers/{site['id']}/saml",
        json={"name": "Acme SAML", "metadata_url": f"{idp.base_url}/metadata", "allow_idp_initiated": False},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    unsolicited = idp.response("eve@acme.com", None, site["acs_url"], site["sp_metadata_url"])
    refused = await post_acs(client, site["acs_url"], unsolicited, "/")
    assert refused.status_code == 403
    assert "IdP-initiated" in refused.json()["error"]["message"]
