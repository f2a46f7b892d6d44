"""A learner lists their own certificates: page by page, with the same fields an admin sees, and never another
tenant's."""

from __future__ import annotations

from tests.conftest import MakeTenant
from tests.integration.catalog.helpers import Client
from tests.integration.certificates.conftest import Complete, Issue


async def test_my_certificates_come_page_by_page_with_the_total_even_past_the_end(
    client: Client, complete: Complete, issue: Issue
) -> None:
    done = await complete()
    old = await issue(done)
    reissued = await client.post(f"{done.base}/api/v1/certificates/{old.id}/reissue", headers=done.admin)
    assert reissued.status_code == 200, reissued.text
    url = f"{done.base}/api/v1/me/certificates"

    first = (await client.get(url, params={"limit": 1}, headers=done.headers)).json()
    second = (await client.get(url, params={"limit": 1, "offset": 1}, headers=done.headers)).json()
    past_the_end = (await client.get(url, params={"offset": 5}, headers=done.headers)).json()
    no_limit = await client.get(url, params={"limit": 0}, headers=done.headers)

    assert [item["id"] for item in first["items"]] == [reissued.json()["id"]]
    assert [item["id"] for item in second["items"]] == [str(old.id)]
    assert [item["status"] for item in first["items"] + second["items"]] == ["valid", "superseded"]
    assert (first["total"], first["limit"], first["offset"]) == (2, 1, 0)
    assert (past_the_end["items"], past_the_end["total"], past_the_end["offset"]) == ([], 2, 5)
    assert no_limit.status_code == 422
    # Field for field what the admin API answers for the same certificate. The PDF is rendered by the
    # worker meanwhile, so whether it is ready (and so has a download link, signed with its own expiry
    # time) may change between the two reads: each view is only checked to be consistent about it.
    mine = second["items"][0]
    admin_view = (await client.get(f"{done.base}/api/v1/certificates/{old.id}", headers=done.admin)).json()
    assert list(mine) == list(admin_view)
    rendering = ("pdf_ready", "download_url")
    assert {k: v for k, v in mine.items() if k not in rendering} == {
        k: v for k, v in admin_view.items() if k not in rendering
    }
    for view in (mine, admin_view):
        assert view["pdf_ready"] == (view["download_url"] is not None)


async def test_learners_never_see_another_tenants_certificates(
    client: Client, complete: Complete, issue: Issue, make_tenant: MakeTenant
) -> None:
    here, there = await complete(tenant=await make_tenant()), await complete(tenant=await make_tenant())
    mine, theirs = await issue(here), await issue(there)

    listed_here = (await client.get(f"{here.base}/api/v1/me/certificates", headers=here.headers)).json()
    listed_there = (await client.get(f"{there.base}/api/v1/me/certificates", headers=there.headers)).json()
    # A token carried to the other tenant's host is refused before anything is read.
    wrong_host = await client.get(f"{there.base}/api/v1/me/certificates", headers=here.headers)

    assert [item["id"] for item in listed_here["items"]] == [str(mine.id)]
    assert [item["id"] for item in listed_there["items"]] == [str(theirs.id)]
    assert listed_here["items"][0]["verify_url"].startswith(f"http://{here.tenant.slug}.")
    assert listed_there["items"][0]["verify_url"].startswith(f"http://{there.tenant.slug}.")
    assert wrong_host.status_code == 401
