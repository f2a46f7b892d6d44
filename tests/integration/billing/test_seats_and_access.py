"""Seats: held by active learners, freed by deactivation, blocked or billed past the licence per plan,
snapshotted daily. Access: every billing route checks its caller and never crosses tenants."""

from __future__ import annotations

from typing import Any

from lms.billing.services.seats import snapshot_seats
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeUser
from tests.integration.billing.conftest import Client, MakeSite
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.web.test_pages import browser_headers


async def test_seats_are_held_by_active_learners_freed_by_deactivation_and_blocked_past_the_licence(
    client: Client, make_site: MakeSite, make_user: MakeUser, login: Login, db: Database
) -> None:
    site = await make_site(Plan.TEAM, seats=2)
    _, author = await instructor(make_user, login, site.tenant)
    course = await build_course(client, site.tenant, author, self_enrollment=False)
    people = [await make_user(site.tenant) for _ in range(3)]
    url = f"{site.base}/api/v1/enrollments"
    for person in people[:2]:
        taken = await client.post(url, json={"course_id": course.id, "user_id": str(person.id)}, headers=site.admin)
        assert taken.status_code == 201
    full = await client.post(url, json={"course_id": course.id, "user_id": str(people[2].id)}, headers=site.admin)
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "seat_limit_reached"
    assert "2 seats" in full.json()["error"]["message"]

    summary = await client.get(f"{site.base}/api/v1/billing/seats", headers=site.admin)
    assert (summary.json()["used"], summary.json()["licensed"], summary.json()["available"]) == (2, 2, 0)
    holders = await client.get(f"{site.base}/api/v1/billing/seats/holders", headers=site.admin)
    assert {h["user_id"] for h in holders.json()["items"]} == {str(p.id) for p in people[:2]}
    # The page lists them in a table that stacks on phones: each cell labelled, nothing scrolls sideways.
    html = browser_headers(site.admin["Authorization"].removeprefix("Bearer "))
    page = (await client.get(f"{site.base}/admin/billing", headers={**html, "Accept-Language": "de"})).text
    table = page[page.index('<table class="data-table seat-holders">') :]
    table = table[: table.index("</table>")]
    assert table.count('<td data-label="E-Mail-Adresse">') == 2
    assert people[0].email in table
    assert "table-scroll" not in page[page.index("seat-holders") - 200 : page.index("seat-holders")]

    deactivated = await client.post(f"{site.base}/api/v1/users/{people[0].id}/deactivate", headers=site.admin)
    assert deactivated.status_code == 200, deactivated.text
    freed = await client.get(f"{site.base}/api/v1/billing/seats", headers=site.admin)
    assert freed.json()["used"] == 1
    now_fits = await client.post(url, json={"course_id": course.id, "user_id": str(people[2].id)}, headers=site.admin)
    assert now_fits.status_code == 201

    # Both seats are taken again: the deactivated learner cannot come back until one is free.
    back = await client.post(f"{site.base}/api/v1/users/{people[0].id}/reactivate", headers=site.admin)
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "seat_limit_reached"

    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        assert await snapshot_seats(session, site.tenant.id) == 2
        assert await snapshot_seats(session, site.tenant.id) == 2  # the same day keeps one row
    history = (await client.get(f"{site.base}/api/v1/billing/seats", headers=site.admin)).json()["history"]
    assert [(d["used"], d["licensed"]) for d in history] == [(2, 2)]


async def test_plans_that_bill_the_overage_let_learners_past_the_licence(
    client: Client, make_site: MakeSite, make_user: MakeUser, login: Login
) -> None:
    site = await make_site(Plan.ENTERPRISE, seats=1)
    _, author = await instructor(make_user, login, site.tenant)
    course = await build_course(client, site.tenant, author, self_enrollment=False)
    for _ in range(2):
        person = await make_user(site.tenant)
        response = await client.post(
            f"{site.base}/api/v1/enrollments",
            json={"course_id": course.id, "user_id": str(person.id)},
            headers=site.admin,
        )
        assert response.status_code == 201
    summary = (await client.get(f"{site.base}/api/v1/billing/seats", headers=site.admin)).json()
    assert (summary["used"], summary["licensed"], summary["overage_allowed"]) == (2, 1, True)


ADMIN_ROUTES = [
    ("GET", "/api/v1/billing/subscription", None),
    ("POST", "/api/v1/billing/checkout", {"plan": "team", "seats": 3}),
    ("POST", "/api/v1/billing/seats", {"seats": 3}),
    ("POST", "/api/v1/billing/cancel", None),
    ("POST", "/api/v1/billing/portal", None),
    ("GET", "/api/v1/billing/invoices", None),
    ("GET", "/api/v1/billing/seats", None),
    ("GET", "/api/v1/billing/seats/holders", None),
    ("GET", "/api/v1/billing/plan-change?plan=business", None),
    ("POST", "/api/v1/billing/plan", {"plan": "business"}),
    ("GET", "/api/v1/billing/overage", None),
    ("GET", "/api/v1/billing/purchases", None),
    ("POST", "/api/v1/billing/purchases/01932a3c-0000-7000-8000-000000000000/refund", {"amount_cents": 100}),
]


async def test_billing_routes_refuse_learners_strangers_and_other_tenants(client: Client, make_site: MakeSite) -> None:
    a, b = await make_site(Plan.TEAM), await make_site(Plan.TEAM)
    for method, path, body in ADMIN_ROUTES:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        anonymous = await client.request(method, f"{a.base}{path}", **kwargs)
        assert anonymous.status_code == 401, path
        learner = await client.request(method, f"{a.base}{path}", headers=a.learner, **kwargs)
        assert learner.status_code == 403, path
        # A's admin on B's host: the token belongs to another site.
        foreign = await client.request(method, f"{b.base}{path}", headers=a.admin, **kwargs)
        assert foreign.status_code == 401, path
    assert (await client.get(f"{a.base}/api/v1/billing/plans")).status_code == 401
    plans = await client.get(f"{a.base}/api/v1/billing/plans", headers=a.learner)
    assert [p["key"] for p in plans.json()["items"]] == ["trial", "team", "business", "enterprise"]
    business = next(p for p in plans.json()["items"] if p["key"] == "business")
    assert {"sso", "scim", "custom_domains"} <= set(business["features"])
    # Pages: a learner gets the no-access page, a stranger goes to sign in.
    page = await client.get(f"{a.base}/admin/billing", headers={**a.learner, "Accept": "text/html"})
    assert page.status_code == 403
    visitor = await client.get(f"{a.base}/admin/billing", headers={"Accept": "text/html"}, follow_redirects=False)
    assert visitor.status_code in (302, 303)


async def test_operator_billing_routes_need_an_operator(
    client: Client, make_site: MakeSite, operator_token: str
) -> None:
    site = await make_site(Plan.TEAM)
    paths = [
        ("GET", "/api/v1/operator/billing/tenants", None),
        ("GET", f"/api/v1/operator/billing/tenants/{site.tenant.id}", None),
        ("POST", f"/api/v1/operator/billing/tenants/{site.tenant.id}/override", {"reason": "x", "comp_seats": 1}),
        ("GET", "/api/v1/operator/billing/webhook-events", None),
    ]
    for method, path, body in paths:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        assert (await client.request(method, path, **kwargs)).status_code == 401, path
        assert (await client.request(method, path, headers=site.admin, **kwargs)).status_code == 403, path
    ops = {"Authorization": f"Bearer {operator_token}"}
    missing = await client.get("/api/v1/operator/billing/tenants/00000000-0000-0000-0000-000000000000", headers=ops)
    assert missing.status_code == 404
    bad = await client.post(
        f"/api/v1/operator/billing/tenants/{site.tenant.id}/override",
        json={"reason": "x", "comp_seats": -1},
        headers=ops,
    )
    assert bad.status_code in (400, 422)
    # Custom domains are a business feature, checked on the operator route too.
    domain = await client.post(
        f"/api/v1/operator/tenants/{site.tenant.id}/domains", json={"hostname": "learn.team-co.test"}, headers=ops
    )
    assert domain.status_code == 402
    assert domain.json()["error"]["code"] == "upgrade_required"
