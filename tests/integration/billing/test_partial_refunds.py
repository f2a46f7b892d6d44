"""Partial refunds of course purchases: recorded with the amount, the course kept; the rest refunded
ends the enrolment; notices state the amount; repeated and out-of-order events end in the same
state; administrators refund all or part from the API and the page, never another site's sale."""

from __future__ import annotations

from typing import Any

from lms.db.engines import Database
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeUser, eventually
from tests.integration.billing.conftest import Client, Deliver, MakeSite, Site, checkout_session_id, outbox_subjects
from tests.integration.billing.test_paid_courses import enrolment_status
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.web.test_pages import CSRF, browser_headers
from tests.stripe_standin import StripeStandIn


async def bought_course(
    client: Client,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    site: Site,
    make_user: MakeUser,
    login: Login,
    price_cents: int = 4900,
) -> tuple[str, str]:
    """A priced course the learner has paid for (enrolled); (course id, payment intent id)."""
    _, author = await instructor(make_user, login, site.tenant)
    course = await build_course(client, site.tenant, author, price_cents=price_cents, currency="EUR")
    bought = await client.post(f"{site.base}/api/v1/billing/courses/{course.id}/checkout", headers=site.learner)
    assert bought.status_code == 201, bought.text
    paid = stripe_standin.state.complete_checkout(checkout_session_id(bought.json()["checkout_url"]))
    await deliver(stripe_standin.take_events())

    async def enrolled() -> bool:
        return await enrolment_status(client, site, course.id) == "active"

    await eventually(enrolled)
    return course.id, str(paid["payment_intent"])


async def sales(client: Client, site: Site) -> list[dict[str, Any]]:
    response = await client.get(f"{site.base}/api/v1/billing/purchases", headers=site.admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_partial_refunds_keep_the_course_and_the_rest_ends_it_in_any_order(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    make_user: MakeUser,
    login: Login,
    db: Database,
) -> None:
    site = await make_site(Plan.TEAM)
    course_id, intent = await bought_course(client, stripe_standin, deliver, site, make_user, login)

    stripe_standin.state.refund(intent, 1000)
    first = stripe_standin.take_events()
    await deliver(first)

    async def partly() -> bool:
        return [(s["status"], s["amount_refunded_cents"]) for s in await sales(client, site)] == [
            ("partially_refunded", 1000)
        ]

    await eventually(partly)
    assert await enrolment_status(client, site, course_id) == "active"

    stripe_standin.state.refund(intent, 900)
    second = stripe_standin.take_events()
    # Delivered twice, the older one after the newer: the total is Stripe's, 19.00.
    await deliver(second + first + second)

    async def more() -> bool:
        return [s["amount_refunded_cents"] for s in await sales(client, site)] == [1900]

    await eventually(more)
    assert await enrolment_status(client, site, course_id) == "active"

    async def two_notices() -> bool:
        subjects = await outbox_subjects(db, site.tenant)
        return sum(": Partial refund: " in s for s in subjects) == 2

    await eventually(two_notices)

    # The rest is refunded: the enrolment ends; a stale partial event after it changes nothing.
    stripe_standin.state.refund(intent)
    await deliver(stripe_standin.take_events() + first)

    async def refunded() -> bool:
        return await enrolment_status(client, site, course_id) == "refunded"

    await eventually(refunded)
    [sale] = await sales(client, site)
    assert (sale["status"], sale["amount_refunded_cents"]) == ("refunded", 4900)
    subjects = await outbox_subjects(db, site.tenant)
    assert sum(": Refund: " in s for s in subjects) == 1
    assert sum(": Partial refund: " in s for s in subjects) == 2


async def test_admins_refund_part_then_the_rest_and_bad_refunds_are_refused(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    make_user: MakeUser,
    login: Login,
) -> None:
    site = await make_site(Plan.TEAM)
    course_id, intent = await bought_course(client, stripe_standin, deliver, site, make_user, login, 3000)
    [sale] = await sales(client, site)
    url = f"{site.base}/api/v1/billing/purchases/{sale['id']}/refund"

    too_much = await client.post(url, json={"amount_cents": 3001}, headers=site.admin)
    assert too_much.status_code == 422
    assert too_much.json()["error"]["field"] == "amount_cents"
    assert (await client.post(url, json={"amount_cents": 0}, headers=site.admin)).status_code == 422
    assert (await client.post(url, json={"amount_cents": 500}, headers=site.learner)).status_code == 403

    # Another site's admin cannot see or refund this sale.
    other = await make_site(Plan.TEAM)
    foreign = await client.post(
        f"{other.base}/api/v1/billing/purchases/{sale['id']}/refund", json={"amount_cents": 500}, headers=other.admin
    )
    assert foreign.status_code == 404
    assert await sales(client, other) == []

    part = await client.post(url, json={"amount_cents": 500}, headers=site.admin)
    assert part.status_code == 200, part.text
    assert (part.json()["status"], part.json()["amount_refunded_cents"]) == ("partially_refunded", 500)
    charge = stripe_standin.state.objects[stripe_standin.state.objects[intent]["latest_charge"]]
    assert (charge["amount_refunded"], charge["refunded"]) == (500, False)
    assert await enrolment_status(client, site, course_id) == "active"
    # Stripe's echo of it changes nothing.
    await deliver(stripe_standin.take_events())

    rest = await client.post(url, json={}, headers=site.admin)
    assert rest.status_code == 200, rest.text
    assert (rest.json()["status"], rest.json()["amount_refunded_cents"]) == ("refunded", 3000)
    assert await enrolment_status(client, site, course_id) == "refunded"
    again = await client.post(url, json={}, headers=site.admin)
    assert again.status_code == 409
    assert charge["amount_refunded"] == 3000


async def test_refund_page_refunds_part_of_a_sale(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    make_user: MakeUser,
    login: Login,
) -> None:
    site = await make_site(Plan.TEAM)
    course_id, _ = await bought_course(client, stripe_standin, deliver, site, make_user, login, 2500)
    [sale] = await sales(client, site)
    html = browser_headers(site.admin["Authorization"].removeprefix("Bearer "))
    billing = await client.get(f"{site.base}/admin/billing", headers=html)
    assert "Course sales" in billing.text
    assert f"/admin/billing/sales/{sale['id']}/refund" in billing.text
    review = await client.get(f"{site.base}/admin/billing/sales/{sale['id']}/refund", headers=html)
    assert review.status_code == 200
    assert "€25.00" in review.text

    page_url = f"{site.base}/admin/billing/sales/{sale['id']}/refund"
    bad = await client.post(page_url, data={"csrf_token": CSRF, "amount": "ten"}, headers=html, follow_redirects=False)
    assert bad.status_code == 422
    over = await client.post(page_url, data={"csrf_token": CSRF, "amount": "30"}, headers=html, follow_redirects=False)
    assert over.status_code == 422
    assert "At most" in over.text or "at most" in over.text
    done = await client.post(
        page_url, data={"csrf_token": CSRF, "amount": "7,50"}, headers=html, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    [sale] = await sales(client, site)
    assert (sale["status"], sale["amount_refunded_cents"]) == ("partially_refunded", 750)
    assert await enrolment_status(client, site, course_id) == "active"
    foreign = await make_site(Plan.TEAM)
    other_html = browser_headers(foreign.admin["Authorization"].removeprefix("Bearer "))
    missing = await client.get(f"{foreign.base}/admin/billing/sales/{sale['id']}/refund", headers=other_html)
    assert missing.status_code == 404
