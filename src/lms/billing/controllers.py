"""Billing API: plans, the tenant's subscription and seats, course purchases, the Stripe webhook,
and the operators' billing view with its audited overrides."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from redis.asyncio import Redis

from lms.billing.guards import forget_licence
from lms.billing.schemas import (
    CheckoutIn,
    CoursePurchaseOut,
    InboxEventOut,
    InboxStatus,
    InvoiceOut,
    OperatorBillingOut,
    OverageOut,
    OverrideIn,
    PlanChangeIn,
    PlanChangeOut,
    PlanOut,
    PurchaseRowOut,
    RedirectOut,
    RefundIn,
    SeatHolderOut,
    SeatsIn,
    SeatsOut,
    SubscriptionOut,
    WebhookAck,
)
from lms.billing.services import accounts, inbox, operators, overage, plans, purchases, seats
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.db.providers import DbSession
from lms.identity.guards import Principal, allows_anonymous, requires_role, requires_user
from lms.identity.schemas import Role
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.tenancy.guards import requires_operator
from lms.tenancy.queries import active_tenant_ids
from lms.tenancy.services import Actor

# A Stripe event is a few kilobytes; anything near this is not one.
WEBHOOK_MAX_BODY = 256 * 1024


def actor_of(principal: Principal, email: str | None = None) -> accounts.BillingActor:
    return accounts.BillingActor(f"user:{principal.user_id}", email)


def site_url(request: AppRequest, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}"


class PlansController(Controller):
    path = "/api/v1/billing/plans"
    guards = [requires_user]
    tags = ["billing"]

    @get()
    async def list_plans(self, db_session: DbSession, page: NamedDependency[PageParams]) -> Page[PlanOut]:
        """The platform's plans, cheapest first: per-seat price, interval and the features each unlocks."""
        return page.slice(await accounts.list_plans(db_session))


class SubscriptionController(Controller):
    path = "/api/v1/billing"
    guards = [requires_role(Role.TENANT_ADMIN)]
    tags = ["billing"]

    @get("/subscription")
    async def get_subscription(
        self, db_session: DbSession, settings: NamedDependency[Settings], principal: NamedDependency[Principal]
    ) -> SubscriptionOut:
        """The site's plan, status (trialing, active, past_due, suspended, canceled) and seats."""
        return await accounts.overview(db_session, settings, principal.tenant_id)

    @post("/checkout", status_code=HTTP_201_CREATED)
    async def start_checkout(
        self,
        request: AppRequest,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        data: JSONBody[CheckoutIn],
    ) -> RedirectOut:
        """Start Stripe Checkout for a subscription (quantity = seats); send the browser to `url`."""
        url = await accounts.start_checkout(
            db_session,
            settings,
            principal.tenant_id,
            actor_of(principal),
            data.plan,
            data.seats,
            site_url(request, "/admin/billing"),
        )
        return RedirectOut(url)

    @post("/seats", status_code=HTTP_200_OK)
    async def change_seats(
        self,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        data: JSONBody[SeatsIn],
    ) -> SubscriptionOut:
        """Change the licensed seats; Stripe prorates the difference."""
        await accounts.change_seats(db_session, settings, principal.tenant_id, actor_of(principal), data.seats)
        forget_licence(principal.tenant_id)
        return await accounts.overview(db_session, settings, principal.tenant_id)

    @get("/plan-change")
    async def preview_plan_change(
        self,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        plan: Annotated[str, QueryParameter(max_length=32, pattern=r"^[a-z][a-z0-9_]{0,31}$")],
        seats: Annotated[int | None, QueryParameter(ge=1, le=100_000)] = None,
    ) -> PlanChangeOut:
        """What moving to `plan` would do: price, features gained and lost, and the lost features
        this site uses (`needs_confirmation`). Nothing changes."""
        return await plans.preview_plan_change(db_session, settings, principal.tenant_id, plan, seats)

    @post("/plan", status_code=HTTP_200_OK)
    async def change_plan(
        self,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        data: JSONBody[PlanChangeIn],
    ) -> SubscriptionOut:
        """Upgrade or downgrade the subscription's plan; Stripe prorates (an upgrade is invoiced now).

        409 `confirmation_required` when the new plan switches off features in use (send `confirm: true`);
        422 on `seats` when the seats would not cover the learners holding one."""
        await plans.change_plan(
            db_session, settings, principal.tenant_id, actor_of(principal), data.plan, data.seats, data.confirm
        )
        forget_licence(principal.tenant_id)
        return await accounts.overview(db_session, settings, principal.tenant_id)

    @get("/overage")
    async def get_overage(self, db_session: DbSession, principal: NamedDependency[Principal]) -> OverageOut:
        """Seats over the licence at this period's peak (billed after the period closes) and past charges."""
        return await overage.current_overage(db_session, principal.tenant_id)

    @get("/purchases")
    async def list_purchases(self, db_session: DbSession, page: NamedDependency[PageParams]) -> Page[PurchaseRowOut]:
        """Course sales, newest first, with what was refunded."""
        items, total = await purchases.list_purchases(db_session, page.limit, page.offset)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @post("/purchases/{purchase_id:uuid}/refund", status_code=HTTP_200_OK)
    async def refund_purchase(
        self,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        purchase_id: FromPath[UUID],
        data: JSONBody[RefundIn],
    ) -> PurchaseRowOut:
        """Refund a course sale in full, or `amount_cents` of it; a partial refund keeps the course."""
        await purchases.refund_purchase(
            db_session, settings, principal.tenant_id, actor_of(principal), purchase_id, data.amount_cents
        )
        return await purchases.purchase_row(db_session, purchase_id)

    @post("/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self, db_session: DbSession, settings: NamedDependency[Settings], principal: NamedDependency[Principal]
    ) -> SubscriptionOut:
        """Cancel at the end of the paid period (access continues until then)."""
        await accounts.cancel_at_period_end(db_session, settings, principal.tenant_id, actor_of(principal))
        return await accounts.overview(db_session, settings, principal.tenant_id)

    @post("/portal", status_code=HTTP_200_OK)
    async def open_portal(
        self,
        request: AppRequest,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
    ) -> RedirectOut:
        """A Stripe Customer Portal session (payment methods, invoices); send the browser to `url`."""
        url = await accounts.portal_url(db_session, settings, principal.tenant_id, site_url(request, "/admin/billing"))
        return RedirectOut(url)

    @get("/invoices")
    async def list_invoices(
        self,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        page: NamedDependency[PageParams],
    ) -> Page[InvoiceOut]:
        """The site's invoices from Stripe, newest first (`limit` of them)."""
        items = await accounts.list_invoices(db_session, settings, principal.tenant_id, page.limit)
        return Page(items=items, total=len(items), limit=page.limit, offset=0)

    @get("/seats")
    async def seat_summary(self, db_session: DbSession, principal: NamedDependency[Principal]) -> SeatsOut:
        """Seats used and licensed, and the daily history of the last 30 days."""
        return await seats.seat_summary(db_session, principal.tenant_id)

    @get("/seats/holders")
    async def seat_holders(self, db_session: DbSession, page: NamedDependency[PageParams]) -> Page[SeatHolderOut]:
        """Who holds a seat (active learners), most active enrolments first."""
        items, total = await seats.holders(db_session, page.limit, page.offset)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)


class CoursePurchaseController(Controller):
    path = "/api/v1/billing/courses"
    guards = [requires_user]
    tags = ["billing"]

    @post("/{course_id:uuid}/checkout", status_code=HTTP_201_CREATED)
    async def buy_course(
        self,
        request: AppRequest,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
    ) -> CoursePurchaseOut:
        """Start Stripe Checkout for a priced course; the enrolment follows the completed payment."""
        return await purchases.start_course_checkout(
            db_session,
            settings,
            principal.tenant_id,
            principal.user_id,
            course_id,
            site_url(request, f"/courses/{course_id}"),
        )


class StripeWebhookController(Controller):
    path = "/api/v1/billing/webhooks"
    guards = [allows_anonymous("Stripe posts events here; the signature on the raw body authenticates them")]
    tags = ["billing"]

    @post("/stripe", status_code=HTTP_200_OK, request_max_body_size=WEBHOOK_MAX_BODY)
    async def receive_stripe_event(
        self,
        request: AppRequest,
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
        stripe_signature: Annotated[str | None, HeaderParameter(name="stripe-signature", max_length=2000)] = None,
    ) -> WebhookAck:
        """Verify, store once by event id and acknowledge; a duplicate is acknowledged and ignored."""
        payload = await request.body()
        accepted = await inbox.accept(database, settings, redis, payload, stripe_signature)
        return WebhookAck(received=True, duplicate=accepted.duplicate, ignored=accepted.ignored)


class OperatorBillingController(Controller):
    path = "/api/v1/operator/billing"
    guards = [requires_operator]
    tags = ["operator"]

    @get("/tenants")
    async def list_tenant_billing(
        self,
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        page: NamedDependency[PageParams],
    ) -> Page[OperatorBillingOut]:
        """Plan, seats (licensed, comp, used) and billing status of every active tenant."""
        async with database.operator_sessions() as session:
            ids = await active_tenant_ids(session)
        items = []
        for tenant_id in ids[page.offset : page.offset + page.limit]:
            async with tenant_session(database.app_sessions, tenant_id) as session:
                items.append(await operators.billing_of(session, settings, tenant_id))
        return Page(items=items, total=len(ids), limit=page.limit, offset=page.offset)

    @get("/tenants/{tenant_id:uuid}")
    async def get_tenant_billing(
        self, database: NamedDependency[Database], settings: NamedDependency[Settings], tenant_id: FromPath[UUID]
    ) -> OperatorBillingOut:
        """One tenant's billing."""
        async with tenant_session(database.app_sessions, tenant_id) as session:
            return await operators.billing_of(session, settings, tenant_id)

    @post("/tenants/{tenant_id:uuid}/override", status_code=HTTP_200_OK)
    async def override(
        self,
        request: AppRequest,
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        tenant_id: FromPath[UUID],
        data: JSONBody[OverrideIn],
    ) -> OperatorBillingOut:
        """Comp seats, extend a trial, set the plan or (for a tenant invoiced outside Stripe) the seats by
        hand, with a reason; audited in the tenant's billing trail and the operators' audit log."""
        operator = request.state.operator
        actor = Actor(name=operator.email, operator_id=operator.id, request_id=request.scope["state"].get("request_id"))
        return await operators.apply_override(database, settings, tenant_id, actor, data)

    @get("/webhook-events")
    async def list_webhook_events(
        self,
        database: NamedDependency[Database],
        page: NamedDependency[PageParams],
        status: FromQuery[InboxStatus | None] = None,
        tenant_id: FromQuery[UUID | None] = None,
    ) -> Page[InboxEventOut]:
        """Stripe events in the inbox, newest first; `status=dead` lists those whose handling gave up."""
        async with database.operator_sessions() as session:
            return await inbox.list_events(
                session, status.value if status else None, tenant_id, page.limit, page.offset
            )
