"""The learner's certificates page and the verification page as browsers see them."""

from __future__ import annotations

from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.catalog.helpers import Client
from tests.integration.certificates.conftest import Complete, Issue
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import BROWSER, bearer, browser_headers


async def test_learner_lists_certificates_and_the_qr_link_opens_a_page(
    client: Client, complete: Complete, issue: Issue, login: Login, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    done = await complete(name="Ada Lovelace", title="Safety first")
    cert = await issue(done)
    headers = browser_headers(await bearer(login, done.user))
    site = secure_host(done.tenant)

    mine = await client.get(f"{site}/certificates", headers=headers)
    assert mine.status_code == 200
    assert "Safety first" in mine.text
    assert f"/verify/{cert.id}" in mine.text
    assert "linkedin.com" in mine.text

    verify = await client.get(f"{site}/verify/{cert.id}", headers={**BROWSER, "Accept-Language": "de"})
    assert verify.status_code == 200, verify.text
    assert verify.headers["content-type"].startswith("text/html")
    assert '<html lang="de"' in verify.text
    assert "Zertifikatsprüfung" in verify.text
    assert "Ada Lovelace" in verify.text
    as_json = await client.get(f"{site}/verify/{cert.id}", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json()["status"] == "valid"

    # Another learner of the same site has none, and is told how to earn one.
    other = browser_headers(await bearer(login, await make_user(done.tenant)))
    empty = await client.get(f"{site}/certificates", headers=other)
    assert "Safety first" not in empty.text
    assert "No certificates yet" in empty.text
    # Another tenant's learner sees none of it.
    stranger_tenant = await make_tenant()
    stranger = browser_headers(await bearer(login, await make_user(stranger_tenant)))
    elsewhere = await client.get(f"{secure_host(stranger_tenant)}/certificates", headers=stranger)
    assert "Safety first" not in elsewhere.text
