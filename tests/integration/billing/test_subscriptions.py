"""Tenant subscriptions through Stripe: trial -> Checkout -> active, seat changes with proration,
invoices, portal, cancellation; dunning from a failed payment to suspension and back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from lms.billing.services.accounts import end_expired_trial
from lms.billing.tasks import ENFORCE_GRACE_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.clock import clock_set_to
from lms.lib.jobs import Job, build_celery, send_now
from lms.tenancy.models import Plan
from tests.conftest import eventually
from tests.integration.billing.conftest import GRACE_SECONDS, Client, Deliver, MakeSite, Site, checkout_session_id
from tests.integration.billing.conftest import outbox_subjects as outbox
from tests.stripe_standin import StripeStandIn


async def subscription(client: Client, site: Site) -> dict[str, Any]:
    response = await client.get(f"{site.base}/api/v1/billing/subscription", headers=site.admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def subscribe(
    client: Client, stripe_standin: StripeStandIn, deliver: Deliver, site: Site, plan: str, seats: int
) -> str:
    """Checkout as the admin would, Stripe completes it, its events arrive; the subscription id."""
    started = await client.post(
        f"{site.base}/api/v1/billing/checkout", json={"plan": plan, "seats": seats}, headers=site.admin
    )
    assert started.status_code == 201, started.text
    session = stripe_standin.state.complete_checkout(checkout_session_id(started.json()["url"]))
    await deliver(stripe_standin.take_events())

    async def active() -> bool:
        return (await subscription(client, site))["status"] == "active"

    await eventually(active)
    return str(session["subscription"])


async def test_trial_upgrades_to_50_seats_then_down_to_40(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite, db: Database
) -> None:
    site = await make_site(Plan.TRIAL)
    trial = await subscription(client, site)
    assert trial["status"] == "trialing"
    assert trial["trial_ends_at"] is not None
    # SSO is a business feature: refused with 402 and the upgrade path while on trial
    gated = await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)
    assert gated.status_code == 402
    assert gated.json()["error"]["code"] == "upgrade_required"
    assert "/admin/billing" in gated.json()["error"]["message"]

    sub_id = await subscribe(client, stripe_standin, deliver, site, "business", 50)
    active = await subscription(client, site)
    assert (active["plan"], active["seats"], active["trial_ends_at"]) == ("business", 50, None)
    assert (await client.get(f"{site.base}/api/v1/sso/providers", headers=site.admin)).status_code == 200

    fewer = await client.post(f"{site.base}/api/v1/billing/seats", json={"seats": 40}, headers=site.admin)
    assert fewer.status_code == 200, fewer.text
    assert fewer.json()["seats"] == 40
    stripe_sub = stripe_standin.state.objects[sub_id]
    assert stripe_sub["items"]["data"][0]["quantity"] == 40
    # The decrease is a proration credit on the next invoice, not a new invoice.
    assert stripe_sub.get("_pending_prorations")
    assert stripe_sub["_pending_prorations"][-1] < 0
    more = await client.post(f"{site.base}/api/v1/billing/seats", json={"seats": 45}, headers=site.admin)
    assert more.json()["seats"] == 45
    invoices = await client.get(f"{site.base}/api/v1/billing/invoices", headers=site.admin)
    reasons = [stripe_standin.state.objects[i["id"]]["billing_reason"] for i in invoices.json()["items"]]
    assert sorted(reasons) == ["subscription_create", "subscription_update"]
    # The webhook echo of the change arrives later and changes nothing.
    await deliver(stripe_standin.take_events())
    await asyncio.sleep(0.5)
    assert (await subscription(client, site))["seats"] == 45

    portal = await client.post(f"{site.base}/api/v1/billing/portal", headers=site.admin)
    assert portal.status_code == 200
    assert portal.json()["url"].startswith("https://billing.stripe.test/")
    cancelled = await client.post(f"{site.base}/api/v1/billing/cancel", headers=site.admin)
    assert cancelled.json()["cancel_at_period_end"] is True
    assert cancelled.json()["status"] == "active"  # access continues until the period ends
    assert any("active" in s for s in await outbox(db, site.tenant))


async def test_seat_changes_are_validated_and_need_a_subscription(
    client: Client, make_site: MakeSite, stripe_standin: StripeStandIn
) -> None:
    site = await make_site(Plan.TRIAL)
    none_yet = await client.post(f"{site.base}/api/v1/billing/seats", json={"seats": 5}, headers=site.admin)
    assert none_yet.status_code == 409
    zero = await client.post(f"{site.base}/api/v1/billing/seats", json={"seats": 0}, headers=site.admin)
    assert zero.status_code in (400, 422)
    assert "seats" in zero.text
    unknown = await client.post(
        f"{site.base}/api/v1/billing/checkout", json={"plan": "platinum", "seats": 5}, headers=site.admin
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "plan"
    before = len(stripe_standin.state.requests)
    learner = await client.post(
        f"{site.base}/api/v1/billing/checkout", json={"plan": "team", "seats": 5}, headers=site.learner
    )
    assert learner.status_code == 403
    assert len(stripe_standin.state.requests) == before  # nothing reached Stripe


async def test_failed_payment_suspends_learners_after_grace_and_payment_resumes(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    db: Database,
    billing_settings: Settings,
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "team", 5)
    jobs = build_celery(billing_settings)

    stripe_standin.state.payment_failed(sub_id)
    await deliver(stripe_standin.take_events())

    async def past_due() -> bool:
        return (await subscription(client, site))["status"] == "past_due"

    await eventually(past_due)
    due = await subscription(client, site)
    assert due["suspends_at"] is not None
    # During the grace period learners keep learning.
    assert (await client.get(f"{site.base}/api/v1/me", headers=site.learner)).status_code == 200
    # Too early: the grace job leaves the tenant alone.
    send_now(Job(ENFORCE_GRACE_TASK, ()), jobs)
    await asyncio.sleep(0.5)
    assert (await subscription(client, site))["status"] == "past_due"

    await asyncio.sleep(GRACE_SECONDS)
    send_now(Job(ENFORCE_GRACE_TASK, ()), jobs)

    async def suspended() -> bool:
        return (await subscription(client, site))["status"] == "suspended"

    await eventually(suspended)
    refused = await client.get(f"{site.base}/api/v1/me", headers=site.learner)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "billing_suspended"
    # Admins can still sign in and pay.
    assert (await client.get(f"{site.base}/api/v1/me", headers=site.admin)).status_code == 200
    page = await client.get(f"{site.base}/admin/billing", headers={**site.admin, "Accept": "text/html"})
    assert page.status_code == 200
    assert "Learners cannot sign in." in page.text
    # A late "still past due" event, handled now, keeps the tenant suspended.
    stripe_standin.state.event("customer.subscription.updated", stripe_standin.state.objects[sub_id])
    await deliver(stripe_standin.take_events())
    await asyncio.sleep(0.5)
    assert (await subscription(client, site))["status"] == "suspended"

    stripe_standin.state.payment_succeeded(sub_id)
    await deliver(stripe_standin.take_events())

    async def resumed() -> bool:
        return (await subscription(client, site))["status"] == "active"

    await eventually(resumed)
    assert (await client.get(f"{site.base}/api/v1/me", headers=site.learner)).status_code == 200
    subjects = await outbox(db, site.tenant)
    assert any("past due" in s for s in subjects)
    assert any("suspended" in s for s in subjects)
    assert subjects[-1].endswith("active")
    audit = await client.get(f"{site.base}/api/v1/billing/subscription", headers=site.admin)
    assert audit.json()["past_due_since"] is None


async def test_a_trial_that_ends_suspends_learners_and_an_operator_extension_restores_them(
    client: Client, make_site: MakeSite, operator_token: str, db: Database, billing_settings: Settings
) -> None:
    site = await make_site(Plan.TRIAL)
    trial = await subscription(client, site)  # the account exists from the first look
    ends = datetime.fromisoformat(trial["trial_ends_at"])
    with clock_set_to(lambda: ends + timedelta(minutes=1)):
        async with tenant_session(db.app_sessions, site.tenant.id) as session:
            assert await end_expired_trial(session, billing_settings, site.tenant.id)
    assert (await client.get(f"{site.base}/api/v1/me", headers=site.learner)).json()["error"]["code"] == (
        "billing_suspended"
    )

    ops = {"Authorization": f"Bearer {operator_token}"}
    refused = await client.post(
        f"/api/v1/operator/billing/tenants/{site.tenant.id}/override", json={"reason": "pilot"}, headers=ops
    )
    assert refused.status_code == 422
    extended = await client.post(
        f"/api/v1/operator/billing/tenants/{site.tenant.id}/override",
        json={"reason": "pilot customer", "extend_trial_days": 30, "comp_seats": 3},
        headers=ops,
    )
    assert extended.status_code == 200, extended.text
    assert (extended.json()["status"], extended.json()["comp_seats"]) == ("trialing", 3)
    assert (await client.get(f"{site.base}/api/v1/me", headers=site.learner)).status_code == 200
    audit = await client.get(f"/api/v1/operator/audit?tenant_id={site.tenant.id}", headers=ops)
    entry = next(e for e in audit.json()["items"] if e["action"] == "billing_override")
    assert entry["after"]["reason"] == "pilot customer"
    assert entry["before"]["status"] == "suspended"
    listed = await client.get("/api/v1/operator/billing/tenants?limit=200", headers=ops)
    assert listed.status_code == 200
    assert listed.json()["total"] >= 1
    one = await client.get(f"/api/v1/operator/billing/tenants/{site.tenant.id}", headers=ops)
    assert (one.json()["plan"], one.json()["seats_used"]) == ("trial", 0)
