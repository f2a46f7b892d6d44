"""Seats & billing for tenant admins (plan, status, seats, invoices, who holds seats), the upgrade
page a plan-gated feature links to, and the learner's "buy this course" form.

Plain HTML forms: each posts to its own route and comes back to /admin/billing with a message, or
goes on to Stripe (Checkout, Customer Portal)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.guards import FEATURE_NAMES, forget_licence
from lms.billing.services import accounts, overage, plans, purchases, seats
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_role, requires_user
from lms.identity.schemas import Role
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

BILLING = "billing/billing.html"
HOLDERS_SHOWN = 20
SALES_SHOWN = 20
PLAN_CHANGE = "billing/plan_change.html"
REFUND = "billing/refund.html"
NOT_SUBSCRIBED = "/admin/billing?saved=subscribe"


def site_url(request: AppRequest, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}"


def notice_text(key: str) -> str:
    texts = {
        "done": _(
            "Thank you. Your subscription starts as soon as Stripe confirms the payment (usually within a minute)."
        ),
        "cancelled": _("Checkout was cancelled; nothing changed."),
        "seats": _("The number of seats was changed. The difference is prorated on your next invoice."),
        "cancel": _("Your subscription ends at the end of the paid period."),
        "plan": _(
            "Your plan was changed. The difference is prorated: an upgrade is charged now, a downgrade is credited."
        ),
        "refund": _("The refund was sent to Stripe. The learner gets a notice with the amount."),
        # The plan change pages of a site without a subscription send it here (Checkout is on this page).
        "subscribe": _("This site has no subscription yet; choose a plan and pay with Checkout."),
    }
    return texts.get(key, "")


class BillingPagesController(Controller):
    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)

    async def render(
        self, request: AppRequest, db_session: DbSession, principal: Principal, status: int = 200, **context: Any
    ) -> Template:
        settings = request.app.state.settings
        context.setdefault("errors", FormErrors())
        subscription = await accounts.overview(db_session, settings, principal.tenant_id)
        plans = await accounts.list_plans(db_session)
        summary = await seats.seat_summary(db_session, principal.tenant_id)
        holders, holder_total = await seats.holders(db_session, HOLDERS_SHOWN, 0)
        seat_overage = await overage.current_overage(db_session, principal.tenant_id)
        sales, sales_total = await purchases.list_purchases(db_session, SALES_SHOWN, 0)
        invoices: list[Any] = []
        invoices_error = ""
        if subscription.has_payment_account:
            try:
                invoices = await accounts.list_invoices(db_session, settings, principal.tenant_id, 12)
            except DomainError as exc:
                invoices_error = service_message(exc)
        peak = max(summary.used, summary.licensed, *(d.used for d in summary.history)) or 1
        return page(
            request,
            BILLING,
            status_code=status,
            subscription=subscription,
            plans=plans,
            current_plan=next((p for p in plans if p.key == subscription.plan), None),
            summary=summary,
            peak=peak,
            holders=holders,
            holder_total=holder_total,
            overage=seat_overage,
            sales=sales,
            sales_total=sales_total,
            invoices=invoices,
            invoices_error=invoices_error,
            payments_configured=bool(settings.stripe_api_key),
            **context,
        )

    @get("/admin/billing")
    async def billing(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        checkout: Annotated[str, QueryParameter(name="checkout", max_length=20)] = "",
        saved: Annotated[str, QueryParameter(name="saved", max_length=20)] = "",
        feature: Annotated[str, QueryParameter(name="feature", max_length=40)] = "",
    ) -> Template:
        notice = notice_text(checkout or saved)
        notice_kind = "success"
        if saved == "subscribe":
            # Not a success: the admin was sent here from a plan change that needs a subscription first.
            # Without online payment the page itself says whom to ask, so no Checkout is suggested.
            notice_kind = "warning"
            notice = notice if request.app.state.settings.stripe_api_key else ""
        needed = feature if feature in FEATURE_NAMES else ""
        return await self.render(
            request, db_session, principal, notice=notice, notice_kind=notice_kind, needed_feature=needed
        )

    @post("/admin/billing/checkout", status_code=HTTP_200_OK)
    async def checkout(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        plan = form.text("plan", 32, required=_("Choose a plan."))
        count = form.text("seats", 7, required=_("Enter the number of seats."))
        if count and (not count.isdigit() or not 1 <= int(count) <= 100_000):
            form.errors["seats"] = _("Enter a whole number of seats from 1 to 100,000.")
        if form.errors:
            return await self.render(request, db_session, principal, 422, errors=form.errors)
        try:
            url = await accounts.start_checkout(
                db_session,
                request.app.state.settings,
                principal.tenant_id,
                accounts.BillingActor(f"user:{principal.user_id}"),
                plan,
                int(count),
                site_url(request, "/admin/billing"),
            )
        except DomainError as exc:
            form.errors[exc.field if exc.field in ("plan", "seats") else "plan"] = service_message(exc)
            return await self.render(request, db_session, principal, exc.status, errors=form.errors)
        return Redirect(url, status_code=303)

    @post("/admin/billing/seats", status_code=HTTP_200_OK)
    async def change_seats(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        count = form.text("seats", 7, required=_("Enter the number of seats."))
        if count and (not count.isdigit() or not 1 <= int(count) <= 100_000):
            form.errors["seats"] = _("Enter a whole number of seats from 1 to 100,000.")
        if form.errors:
            return await self.render(request, db_session, principal, 422, errors=form.errors)
        try:
            await accounts.change_seats(
                db_session,
                request.app.state.settings,
                principal.tenant_id,
                accounts.BillingActor(f"user:{principal.user_id}"),
                int(count),
            )
        except DomainError as exc:
            form.errors["seats"] = service_message(exc)
            return await self.render(request, db_session, principal, exc.status, errors=form.errors)
        forget_licence(principal.tenant_id)
        return Redirect("/admin/billing?saved=seats", status_code=303)

    @post("/admin/billing/portal", status_code=HTTP_200_OK)
    async def portal(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        try:
            url = await accounts.portal_url(
                db_session, request.app.state.settings, principal.tenant_id, site_url(request, "/admin/billing")
            )
        except DomainError as exc:
            errors = FormErrors({"portal": service_message(exc)})
            return await self.render(request, db_session, principal, exc.status, errors=errors)
        return Redirect(url, status_code=303)

    @post("/admin/billing/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        try:
            await accounts.cancel_at_period_end(
                db_session,
                request.app.state.settings,
                principal.tenant_id,
                accounts.BillingActor(f"user:{principal.user_id}"),
            )
        except DomainError as exc:
            errors = FormErrors({"cancel": service_message(exc)})
            return await self.render(request, db_session, principal, exc.status, errors=errors)
        return Redirect("/admin/billing?saved=cancel", status_code=303)


def seat_count(form: FormData, current: int) -> int | None:
    """The optional seat field of a plan change: empty keeps the current seats."""
    count = form.text("seats", 7)
    if not count:
        return None
    if not count.isdigit() or not 1 <= int(count) <= 100_000:
        form.errors["seats"] = _("Enter a whole number of seats from 1 to 100,000.")
        return None
    return int(count) if int(count) != current else None


class PlanChangePagesController(Controller):
    """Upgrade or downgrade: a review page ("check your answers") that names what changes, then the change."""

    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)

    async def render_review(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: Principal,
        plan: str,
        seats: int | None,
        status: int = 200,
        errors: FormErrors | None = None,
    ) -> Template:
        settings = request.app.state.settings
        subscription = await accounts.overview(db_session, settings, principal.tenant_id)
        catalogue = {p.key: p for p in await accounts.list_plans(db_session)}
        change = None
        errors = errors if errors is not None else FormErrors()
        try:
            change = await plans.preview_plan_change(db_session, settings, principal.tenant_id, plan, seats)
        except DomainError as exc:
            if exc.field in ("seats", "plan") and exc.field not in errors:
                errors[exc.field] = service_message(exc)
            status = max(status, exc.status)
        return page(
            request,
            PLAN_CHANGE,
            status_code=status,
            change=change,
            plan=catalogue.get(plan),
            current_plan=catalogue.get(subscription.plan),
            subscription=subscription,
            seats_value=seats if seats is not None else subscription.seats,
            errors=errors,
        )

    @get("/admin/billing/plan")
    async def review(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        plan: Annotated[str, QueryParameter(name="plan", max_length=32)] = "",
    ) -> Template | Redirect:
        if not plan:
            return Redirect("/admin/billing", status_code=303)
        if not await plans.has_subscription(db_session, request.app.state.settings, principal.tenant_id):
            return Redirect(NOT_SUBSCRIBED, status_code=303)
        return await self.render_review(request, db_session, principal, plan, None)

    @post("/admin/billing/plan", status_code=HTTP_200_OK)
    async def change(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        plan = form.text("plan", 32, required=_("Choose a plan."))
        subscription = await accounts.overview(db_session, request.app.state.settings, principal.tenant_id)
        seats_wanted = seat_count(form, subscription.seats)
        confirm = form.fields.get("confirm") == "yes"
        if form.errors:
            return await self.render_review(request, db_session, principal, plan, seats_wanted, 422, form.errors)
        try:
            await plans.change_plan(
                db_session,
                request.app.state.settings,
                principal.tenant_id,
                accounts.BillingActor(f"user:{principal.user_id}"),
                plan,
                seats_wanted,
                confirm,
            )
        except plans.NotSubscribed:
            # Nothing on the review page can succeed; the billing page offers Checkout instead.
            return Redirect(NOT_SUBSCRIBED, status_code=303)
        except plans.ConfirmationRequired:
            form.errors["confirm"] = _("Tick the box to confirm that these features will be switched off.")
            return await self.render_review(request, db_session, principal, plan, seats_wanted, 409, form.errors)
        except DomainError as exc:
            form.errors[exc.field if exc.field in ("plan", "seats") else "plan"] = service_message(exc)
            return await self.render_review(request, db_session, principal, plan, seats_wanted, exc.status, form.errors)
        forget_licence(principal.tenant_id)
        return Redirect("/admin/billing?saved=plan", status_code=303)


class RefundPagesController(Controller):
    """Refund a course sale, all of it or part, after a review of what was paid and refunded so far."""

    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @get("/admin/billing/sales/{purchase_id:uuid}/refund")
    async def review(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        purchase_id: FromPath[UUID],
    ) -> Template:
        sale = await purchases.purchase_row(db_session, purchase_id)
        return page(request, REFUND, sale=sale, errors=FormErrors(), amount_value="")

    @post("/admin/billing/sales/{purchase_id:uuid}/refund", status_code=HTTP_200_OK)
    async def refund(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        purchase_id: FromPath[UUID],
    ) -> Template | Redirect:
        sale = await purchases.purchase_row(db_session, purchase_id)
        form = await FormData.read(request)
        raw = form.text("amount", 14)
        cents: int | None = None
        if raw:
            cents = parse_amount(raw)
            if cents is None:
                form.errors["amount"] = _("Enter an amount like 12.50, or leave it empty to refund everything left.")
        if not form.errors:
            try:
                await purchases.refund_purchase(
                    db_session,
                    request.app.state.settings,
                    principal.tenant_id,
                    accounts.BillingActor(f"user:{principal.user_id}"),
                    purchase_id,
                    cents,
                )
            except DomainError as exc:
                form.errors["amount"] = service_message(exc)
                return page(request, REFUND, status_code=exc.status, sale=sale, errors=form.errors, amount_value=raw)
            return Redirect("/admin/billing?saved=refund#sales-heading", status_code=303)
        return page(request, REFUND, status_code=422, sale=sale, errors=form.errors, amount_value=raw)


def parse_amount(raw: str) -> int | None:
    """`12`, `12.5`, `12.50` or `12,50` as cents; None for anything else."""
    text = raw.replace(",", ".").strip()
    whole, _sep, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and (not fraction.isdigit() or len(fraction) > 2)) or len(whole) > 9:
        return None
    return int(whole) * 100 + int(fraction.ljust(2, "0") or 0)


class CoursePurchasePagesController(Controller):
    guards = [requires_user]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @post("/courses/{course_id:uuid}/buy", status_code=HTTP_200_OK)
    async def buy(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
    ) -> Redirect:
        """Off to Stripe Checkout; errors come back as the error page with what to do."""
        out = await purchases.start_course_checkout(
            db_session,
            request.app.state.settings,
            principal.tenant_id,
            principal.user_id,
            course_id,
            site_url(request, f"/courses/{course_id}"),
        )
        return Redirect(out.checkout_url or f"/courses/{course_id}", status_code=303)
