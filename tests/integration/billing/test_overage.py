"""Seat overage: on a plan that bills it, the peak seats above the licence in a closed period are billed
once, as an invoice item on the next invoice; admins see the pending overage. Plans that block it
record nothing. A Stripe outage or a lost commit bills the period once all the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lms.billing.models import BillingAccount, OverageCharge
from lms.billing.services.overage import bill_closed_periods
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.tenancy.models import Plan
from tests.conftest import eventually
from tests.factories import ROW_FACTORIES
from tests.integration.billing.conftest import Client, Deliver, MakeSite, Site, outbox_subjects
from tests.integration.billing.test_subscriptions import subscribe
from tests.integration.web.test_pages import browser_headers
from tests.stripe_standin import StripeStandIn


async def snapshots(db: Database, site: Site, days: list[tuple[int, int, int]]) -> None:
    """(days from today, used, licensed) snapshots, as the daily job would have taken them."""
    today = clock.now().date()
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        for offset, used, licensed in days:
            await ROW_FACTORIES["billing_seat_snapshots"](
                session, site.tenant.id, day=today + timedelta(days=offset), used=used, licensed=licensed
            )


async def bill(db: Database, settings: Settings, site: Site) -> int:
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        return await bill_closed_periods(session, settings, site.tenant.id)


async def charges(db: Database, site: Site) -> list[OverageCharge]:
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        return list(await session.scalars(select(OverageCharge).order_by(OverageCharge.period_start)))


def invoice_items(stripe_standin: StripeStandIn, sub_id: str) -> list[dict[str, Any]]:
    return [
        o for o in stripe_standin.state.objects.values() if o["object"] == "invoiceitem" and o["subscription"] == sub_id
    ]


async def renew(stripe_standin: StripeStandIn, deliver: Deliver, sub_id: str) -> list[dict[str, Any]]:
    stripe_standin.state.renew(sub_id)
    events = stripe_standin.take_events()
    await deliver(events)
    return events


async def test_the_peak_overage_of_a_closed_period_is_billed_once_on_the_next_invoice(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    db: Database,
    billing_settings: Settings,
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "enterprise", 2)
    # Before the period (not counted), the peak day (3 over), a quieter day (2 over).
    await snapshots(db, site, [(-1, 9, 2), (0, 5, 2), (3, 4, 2)])

    pending = await client.get(f"{site.base}/api/v1/billing/overage", headers=site.admin)
    assert pending.status_code == 200, pending.text
    body = pending.json()
    assert (body["overage_allowed"], body["seats_over"], body["peak_used"], body["licensed"]) == (True, 3, 5, 2)
    assert (body["unit_amount_cents"], body["pending_amount_cents"], body["charges"]) == (2500, 7500, [])
    page = await client.get(f"{site.base}/admin/billing", headers=browser_headers(site.admin["Authorization"][7:]))
    assert "Pending overage" in page.text
    assert "€75.00" in page.text

    events = await renew(stripe_standin, deliver, sub_id)

    async def closed() -> list[OverageCharge]:
        return await charges(db, site)

    [charge] = await eventually(closed)
    assert charge.status == "pending"
    assert await bill(db, billing_settings, site) == 1
    [item] = invoice_items(stripe_standin, sub_id)
    assert (item["amount"], item["currency"], item["invoice"]) == (7500, "eur", None)
    assert item["metadata"]["kind"] == "seat_overage"
    [charge] = await charges(db, site)
    assert (charge.status, charge.seats_over, charge.peak_used, charge.amount_cents) == ("billed", 3, 5, 7500)

    # The job again, the renewal's events again: still one charge, one invoice item.
    assert await bill(db, billing_settings, site) == 0
    await deliver(events)
    assert await bill(db, billing_settings, site) == 0
    assert len(await charges(db, site)) == 1
    assert len(invoice_items(stripe_standin, sub_id)) == 1
    listed = (await client.get(f"{site.base}/api/v1/billing/overage", headers=site.admin)).json()
    assert [(c["status"], c["amount_cents"]) for c in listed["charges"]] == [("billed", 7500)]

    async def told() -> bool:
        return any("Seats over your licence were billed" in s for s in await outbox_subjects(db, site.tenant))

    await eventually(told)

    # The next renewal's invoice carries the overage.
    await renew(stripe_standin, deliver, sub_id)
    [item] = invoice_items(stripe_standin, sub_id)
    invoice = stripe_standin.state.objects[item["invoice"]]
    assert invoice["amount_due"] == 2 * 2500 + 7500


async def test_a_stripe_outage_or_a_lost_commit_still_bills_the_period_once(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    db: Database,
    billing_settings: Settings,
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "enterprise", 3)
    await snapshots(db, site, [(1, 7, 3)])
    await renew(stripe_standin, deliver, sub_id)

    async def closed() -> list[OverageCharge]:
        return await charges(db, site)

    await eventually(closed)
    stripe_standin.state.failures_left = 10
    try:
        assert await bill(db, billing_settings, site) == 0
    finally:
        stripe_standin.state.failures_left = 0
    [charge] = await charges(db, site)
    assert charge.status == "pending"
    assert charge.reason
    assert invoice_items(stripe_standin, sub_id) == []

    # Stripe creates the item, then the transaction that records it is lost.
    async def billed_then_lost() -> None:
        async with tenant_session(db.app_sessions, site.tenant.id) as session:
            assert await bill_closed_periods(session, billing_settings, site.tenant.id) == 1
            raise RuntimeError("the worker died before the commit")

    with pytest.raises(RuntimeError):
        await billed_then_lost()
    assert (await charges(db, site))[0].status == "pending"
    assert await bill(db, billing_settings, site) == 1
    [item] = invoice_items(stripe_standin, sub_id)
    assert item["amount"] == 4 * 2500
    assert (await charges(db, site))[0].stripe_invoice_item_id == item["id"]


async def test_plans_that_block_the_overage_bill_nothing_and_other_sites_see_nothing(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    db: Database,
    billing_settings: Settings,
) -> None:
    site = await make_site(Plan.TRIAL)
    sub_id = await subscribe(client, stripe_standin, deliver, site, "business", 2)
    await snapshots(db, site, [(0, 5, 2)])
    overage = (await client.get(f"{site.base}/api/v1/billing/overage", headers=site.admin)).json()
    assert (overage["overage_allowed"], overage["seats_over"], overage["pending_amount_cents"]) == (False, 0, 0)
    await renew(stripe_standin, deliver, sub_id)

    async def renewed() -> bool:
        async with tenant_session(db.app_sessions, site.tenant.id) as session:
            account = await session.scalar(select(BillingAccount))
            return (
                account is not None
                and account.current_period_start is not None
                and (account.current_period_start > clock.now() + timedelta(days=1))
            )

    await eventually(renewed)
    assert await bill(db, billing_settings, site) == 0
    assert await charges(db, site) == []
    assert invoice_items(stripe_standin, sub_id) == []

    # Another enterprise site's charge is not visible here, nor billed by this site's job.
    other = await make_site(Plan.TRIAL)
    other_sub = await subscribe(client, stripe_standin, deliver, other, "enterprise", 1)
    await snapshots(db, other, [(0, 3, 1)])
    await renew(stripe_standin, deliver, other_sub)

    async def other_closed() -> list[OverageCharge]:
        return await charges(db, other)

    await eventually(other_closed)
    assert await bill(db, billing_settings, site) == 0
    assert (await client.get(f"{site.base}/api/v1/billing/overage", headers=site.admin)).json()["charges"] == []
    assert await bill(db, billing_settings, other) == 1
