"""Plan changes from the tenant side: an upgrade is prorated and charged now and unlocks features; a
downgrade that switches off features in use needs a confirmation; seats in use bound a downgrade;
trials go through Checkout; late and repeated events leave the plan Stripe reports."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeUser, eventually
from tests.factories import ROW_FACTORIES
from tests.integration.billing.conftest import Client, Deliver, MakeSite, Site
from tests.integration.billing.test_subscriptions import subscribe, subscription
from tests.integration.catalog.helpers import build_course, instructor
from tests.integration.web.test_pages import CSRF, browser_headers
from tests.stripe_standin import StripeStandIn


async def take_seats(client: Client, site: Site, make_user: MakeUser, login: Login, count: int) -> None:
    """`count` learners start a course (each then holds a seat)."""
    _, author = await instructor(make_user, login, site.tenant)
    course = await build_course(client, site.tenant, author, self_enrollment=False)
    for _ in range(count):
        person = await make_user(site.tenant)
        taken = await client.post(
            f"{site.base}/api/v1/enrollments",
            json={"course_id": course.id, "user_id": str(person.id)},
            headers=site.admin,
        )
        assert taken.status_code == 201, taken.text


async def test_team_upgrades_to_business_is_charged_now_and_gets_sso_whatever_order_events_arrive(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "team", 10)
    assert (await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)).status_code == 402

    preview = await client.get(f"{site.base}/api/v1/billing/plan-change?plan=business", headers=site.admin)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["direction"], body["seats"], body["seat_price_cents"]) == ("upgrade", 10, 1500)
    assert {"sso", "scim", "custom_domains"} <= set(body["features_gained"])
    assert (body["features_lost"], body["needs_confirmation"]) == ([], False)
    # The preview changed nothing.
    assert stripe_standin.state.objects[sub_id]["items"]["data"][0]["price"]["unit_amount"] == 800

    changed = await client.post(f"{site.base}/api/v1/billing/plan", json={"plan": "business"}, headers=site.admin)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["plan"], changed.json()["seats"], changed.json()["status"]) == ("business", 10, "active")
    stripe_sub = stripe_standin.state.objects[sub_id]
    item = stripe_sub["items"]["data"][0]
    assert (item["price"]["unit_amount"], item["quantity"]) == (1500, 10)
    assert item["price"]["metadata"]["plan"] == "business"
    # The upgrade is charged now, prorated for the rest of the period.
    invoices = await client.get(f"{site.base}/api/v1/billing/invoices", headers=site.admin)
    update = [
        i
        for i in invoices.json()["items"]
        if stripe_standin.state.objects[i["id"]]["billing_reason"] == "subscription_update"
    ]
    assert len(update) == 1
    assert 0 < update[0]["amount_due"] <= 7000
    assert (await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)).status_code == 200

    # Stripe's events (the old "created" among them) arrive late, reversed and twice: the plan stays.
    events = stripe_standin.take_events()
    await deliver(list(reversed(events)) + events)

    async def handled() -> bool:
        return (await subscription(client, site))["plan"] == "business"

    await eventually(handled)
    assert (await subscription(client, site))["plan"] == "business"


async def test_an_upgrade_whose_payment_is_declined_waits_for_the_payment(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "team", 3)
    stripe_standin.state.decline_payments = True
    try:
        declined = await client.post(f"{site.base}/api/v1/billing/plan", json={"plan": "business"}, headers=site.admin)
    finally:
        stripe_standin.state.decline_payments = False
    assert declined.status_code == 402, declined.text
    assert (declined.json()["error"]["code"], declined.json()["error"]["field"]) == ("payment_pending", "plan")
    stripe_sub = stripe_standin.state.objects[sub_id]
    assert stripe_sub["pending_update"] is not None
    assert stripe_sub["items"]["data"][0]["price"]["unit_amount"] == 800
    await deliver(stripe_standin.take_events())
    assert (await subscription(client, site))["plan"] == "team"
    assert (await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)).status_code == 402

    # The admin pays (a new card in the portal): Stripe applies the update and says so.
    stripe_standin.state.payment_succeeded(sub_id)
    await deliver(stripe_standin.take_events())

    async def upgraded() -> bool:
        return (await subscription(client, site))["plan"] == "business"

    await eventually(upgraded)
    assert (await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)).status_code == 200


async def test_downgrade_that_switches_off_features_in_use_needs_confirmation(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite, db: Database
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "business", 10)
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        await ROW_FACTORIES["sso_providers"](session, site.tenant.id)
        await ROW_FACTORIES["scim_tokens"](session, site.tenant.id)
        await ROW_FACTORIES["scim_tokens"](session, site.tenant.id)
        await ROW_FACTORIES["tenant_domains"](session, site.tenant.id)

    preview = await client.get(f"{site.base}/api/v1/billing/plan-change?plan=team", headers=site.admin)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["direction"] == "downgrade"
    assert set(body["features_lost"]) == {"sso", "scim", "custom_domains"}
    assert {(f["feature"], f["count"]) for f in body["features_in_use"]} == {
        ("sso", 1),
        ("scim", 2),
        ("custom_domains", 1),
    }
    assert body["needs_confirmation"] is True

    refused = await client.post(f"{site.base}/api/v1/billing/plan", json={"plan": "team"}, headers=site.admin)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("confirmation_required", "confirm")
    assert "sso" in error["message"]
    assert "scim" in error["message"]
    # Nothing changed anywhere.
    assert stripe_standin.state.objects[sub_id]["items"]["data"][0]["price"]["unit_amount"] == 1500
    assert (await subscription(client, site))["plan"] == "business"

    confirmed = await client.post(
        f"{site.base}/api/v1/billing/plan", json={"plan": "team", "confirm": True}, headers=site.admin
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["plan"] == "team"
    stripe_sub = stripe_standin.state.objects[sub_id]
    assert stripe_sub["items"]["data"][0]["price"]["unit_amount"] == 800
    # A downgrade is a credit on the next invoice, not a charge now.
    assert stripe_sub["_pending_prorations"][-1] < 0
    gated = await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)
    assert gated.status_code == 402


async def test_downgrade_below_the_seats_in_use_is_refused_with_the_field(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    make_user: MakeUser,
    login: Login,
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "enterprise", 2)
    # Enterprise lets learners past the licence: 3 seats in use on 2 licensed.
    await take_seats(client, site, make_user, login, 3)

    # Business refuses learners past the licence: 2 seats would leave one without a seat.
    to_business = await client.post(f"{site.base}/api/v1/billing/plan", json={"plan": "business"}, headers=site.admin)
    assert to_business.status_code == 422
    assert to_business.json()["error"]["field"] == "seats"
    assert "3 seats are in use" in to_business.json()["error"]["message"]
    preview = await client.get(f"{site.base}/api/v1/billing/plan-change?plan=business", headers=site.admin)
    assert preview.status_code == 422
    assert preview.json()["error"]["field"] == "seats"
    explicit = await client.post(
        f"{site.base}/api/v1/billing/plan", json={"plan": "business", "seats": 2}, headers=site.admin
    )
    assert explicit.status_code == 422
    assert explicit.json()["error"]["field"] == "seats"
    assert stripe_standin.state.objects[sub_id]["items"]["data"][0]["quantity"] == 2

    # With enough seats in the same step, it goes through.
    enough = await client.post(
        f"{site.base}/api/v1/billing/plan", json={"plan": "business", "seats": 3}, headers=site.admin
    )
    assert enough.status_code == 200, enough.text
    assert (enough.json()["plan"], enough.json()["seats"]) == ("business", 3)
    item = stripe_standin.state.objects[sub_id]["items"]["data"][0]
    assert (item["price"]["unit_amount"], item["quantity"]) == (1500, 3)


async def test_trials_choose_through_checkout_and_bad_plan_changes_are_refused(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite
) -> None:
    trial = await make_site(Plan.TRIAL)
    no_sub = await client.post(f"{trial.base}/api/v1/billing/plan", json={"plan": "team"}, headers=trial.admin)
    assert no_sub.status_code == 409
    assert no_sub.json()["error"]["field"] == "plan"
    assert "Checkout" in no_sub.json()["error"]["message"]
    assert (await subscription(client, trial))["plan"] == "trial"

    site = await make_site(Plan.TRIAL)
    await subscribe(client, stripe_standin, deliver, site, "team", 5)
    url = f"{site.base}/api/v1/billing/plan"
    for body, status, field in [
        ({"plan": "team"}, 422, "plan"),
        ({"plan": "trial"}, 422, "plan"),
        ({"plan": "platinum"}, 422, "plan"),
        ({"plan": "Business!"}, 422, "plan"),
        ({"plan": "business", "seats": 0}, 422, "seats"),
        ({"plan": "business", "colour": "red"}, 422, None),
    ]:
        response = await client.post(url, json=body, headers=site.admin)
        assert response.status_code == status, (body, response.text)
        if field:
            assert response.json()["error"]["field"] == field
    assert (await subscription(client, site))["plan"] == "team"

    # Stripe unreachable: a clear 502, and the plan is unchanged.
    stripe_standin.state.failures_left = 10
    try:
        down = await client.post(url, json={"plan": "business"}, headers=site.admin)
    finally:
        stripe_standin.state.failures_left = 0
    assert down.status_code == 502
    assert (await subscription(client, site))["plan"] == "team"


async def test_plan_change_pages_review_then_confirm(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite, db: Database
) -> None:
    site = await make_site(Plan.TRIAL)
    await subscribe(client, stripe_standin, deliver, site, "business", 4)
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        await ROW_FACTORIES["sso_providers"](session, site.tenant.id)
    html = browser_headers(site.admin["Authorization"].removeprefix("Bearer "))
    billing = await client.get(f"{site.base}/admin/billing", headers=html)
    assert billing.status_code == 200
    assert "/admin/billing/plan?plan=team" in billing.text
    assert "/admin/billing/plan?plan=enterprise" in billing.text

    review = await client.get(f"{site.base}/admin/billing/plan?plan=team", headers=html)
    assert review.status_code == 200
    assert "1 single sign-on connection" in review.text
    assert 'name="confirm"' in review.text

    form = {"plan": "team", "seats": "4", "csrf_token": CSRF}
    unconfirmed = await client.post(f"{site.base}/admin/billing/plan", data=form, headers=html, follow_redirects=False)
    assert unconfirmed.status_code == 409
    assert "Tick the box" in unconfirmed.text
    assert (await subscription(client, site))["plan"] == "business"

    fewer = await client.post(
        f"{site.base}/admin/billing/plan",
        data={**form, "seats": "abc", "confirm": "yes"},
        headers=html,
        follow_redirects=False,
    )
    assert fewer.status_code == 422
    assert "whole number" in fewer.text

    done = await client.post(
        f"{site.base}/admin/billing/plan",
        data={**form, "confirm": "yes"},
        headers=html,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/admin/billing?saved=plan"
    assert (await subscription(client, site))["plan"] == "team"


async def test_plan_review_of_a_site_without_a_subscription_sends_it_to_checkout_once(
    client: Client, make_site: MakeSite
) -> None:
    site = await make_site(Plan.TRIAL)
    html = browser_headers(site.admin["Authorization"].removeprefix("Bearer "))
    message = "This site has no subscription yet; choose a plan and pay with Checkout."

    # Opened by its address: nothing on the review page could succeed, so the billing page (with Checkout) opens.
    review = await client.get(f"{site.base}/admin/billing/plan?plan=business", headers=html, follow_redirects=False)
    assert review.status_code == 303
    assert review.headers["location"] == "/admin/billing?saved=subscribe"
    billing = await client.get(f"{site.base}{review.headers['location']}", headers=html)
    assert billing.status_code == 200
    assert billing.text.count(message) == 1
    assert "toast-warning" in billing.text  # a reason to act, not a success
    assert 'action="/admin/billing/checkout"' in billing.text

    # A posted change goes the same way, and nothing changes.
    posted = await client.post(
        f"{site.base}/admin/billing/plan",
        data={"plan": "business", "seats": "5", "csrf_token": CSRF},
        headers=html,
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/admin/billing?saved=subscribe"
    assert (await subscription(client, site))["plan"] == "trial"


async def test_without_online_payment_the_plan_review_sends_the_admin_back_without_suggesting_checkout(
    settings: Settings, make_site: MakeSite
) -> None:
    site = await make_site(Plan.TRIAL)
    html = browser_headers(site.admin["Authorization"].removeprefix("Bearer "))
    assert not settings.stripe_api_key
    async with AsyncTestClient(app=create_app(settings), base_url="http://unused.invalid") as plain:
        review = await plain.get(f"{site.base}/admin/billing/plan?plan=business", headers=html, follow_redirects=False)
        assert review.status_code == 303
        billing = await plain.get(f"{site.base}{review.headers['location']}", headers=html)
    assert billing.status_code == 200
    assert "Checkout" not in billing.text
    assert "Online payment is not set up on this platform yet." in billing.text
