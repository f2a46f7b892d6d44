"""The operator console (server-rendered, on the platform's own host under /operator): sign-in with the
operator token and a second factor, tenants, a tenant's page with its actions, platform health.

Every action is a plain form with the CSRF field, asks for a reason where it changes what users see,
and is written to the operators' audit log.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.schemas import OverrideIn
from lms.billing.services.accounts import list_plans
from lms.billing.services.operators import apply_override
from lms.config import Settings
from lms.db.engines import Database
from lms.identity.guards import allows_anonymous
from lms.learning.services import StreamKeys, discard_dead_letter, retry_dead_letter
from lms.lib.errors import DomainError, Forbidden, NotFound
from lms.lib.pagination import PageParams
from lms.lib.params import AppRequest
from lms.tenancy.console.guards import (
    ConsoleSignInRequired,
    on_console_host,
    requires_console_operator,
)
from lms.tenancy.console.services import (
    TenantUsage,
    billing_by_tenant,
    first_admin,
    invite_first_admin,
    override_confirmation,
    platform_health,
    tenant_activity,
    tenant_usage,
)
from lms.tenancy.models import Operator, Plan, TenantStatus
from lms.tenancy.schemas import Branding, TenantCreate, TenantUpdate
from lms.tenancy.services import Actor, TenantAdmin
from lms.tenancy.services.operators import (
    CONSOLE_COOKIE,
    CONSOLE_SESSION_SECONDS,
    PENDING_COOKIE,
    PENDING_SECONDS,
    OperatorConsole,
)
from lms.web.charts import Series, line_chart
from lms.web.forms import FormData, FormErrors, expired_form_message, service_message
from lms.web.i18n import format_day
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

CONSOLE = "/operator"
PAGE_SIZE = 25
STATUS_ACTIONS = ("suspend", "resume", "delete", "purge")
# The billing overrides of the tenant page: each form's own fields (the reason field is named per form,
# so that the page's forms never share an id), as the operator API's OverrideIn names them.
BILLING_ACTIONS = {"comp": ("comp_seats",), "trial": ("extend_trial_days",), "plan": ("plan", "seats")}
# Plan names are product names: shown as they are in every language.
PLAN_OPTIONS = [(plan.value, plan.value.title()) for plan in Plan]


def _cookie(key: str, value: str, max_age: int) -> Cookie:
    # Host-only, HttpOnly, sent only to the console's paths, never on a cross-site request.
    return Cookie(key=key, value=value, path=CONSOLE, max_age=max_age, httponly=True, secure=True, samesite="strict")


def _cleared(key: str) -> Cookie:
    return _cookie(key, "", 0)


def _safe_next(path: str) -> str:
    return path if path.startswith(CONSOLE + "/") or path == CONSOLE else CONSOLE


def to_sign_in(request: Request[Any, Any, Any], _: ConsoleSignInRequired) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{CONSOLE}/sign-in?next={quote(target)}", status_code=303)


def _state(request: Request[Any, Any, Any]) -> tuple[Database, Any, Settings]:
    state = request.app.state
    return state.db, state.redis, state.settings


def _operator(request: Request[Any, Any, Any]) -> Operator:
    operator: Operator = request.state.operator
    return operator


def _actor(request: Request[Any, Any, Any]) -> Actor:
    operator = _operator(request)
    return Actor(name=operator.email, operator_id=operator.id, request_id=request.scope["state"].get("request_id"))


def console_page(request: Request[Any, Any, Any], template: str, code: int = 200, **context: Any) -> Template:
    operator = request.scope.get("state", {}).get("operator")
    context.setdefault("errors", FormErrors())
    return page(request, template, status_code=code, operator=operator, console=CONSOLE, **context)


async def _check_form(request: Request[Any, Any, Any]) -> FormData:
    form = await FormData.read(request)
    if not form.csrf_valid(request):
        raise Forbidden(expired_form_message())
    return form


class OperatorSignInPages(Controller):
    """Sign-in: e-mail and operator token, then the code of the second factor (set up on first use)."""

    path = CONSOLE
    before_request = staticmethod(before_page)
    guards = [allows_anonymous("operators sign in here, on the platform's host only"), on_console_host]
    include_in_schema = False

    @get("/sign-in")
    async def sign_in(
        self, request: AppRequest, next_path: Annotated[str, QueryParameter(name="next", max_length=2048)] = CONSOLE
    ) -> Template:
        return console_page(request, "operator/sign_in.html", step="token", next_path=_safe_next(next_path))

    @post("/sign-in", status_code=HTTP_200_OK)
    async def submit_sign_in(self, request: AppRequest) -> Template | Redirect:
        form = await _check_form(request)
        email = form.text("email", 320, required=_("Enter your e-mail address."))
        token = form.text("token", 200, required=_("Enter your operator token."))
        next_path = _safe_next(form.text("next", 2048))
        if not form.errors:
            db, redis, settings = _state(request)
            async with db.operator_sessions() as session:
                console = OperatorConsole(session, redis, settings.secret_key)
                try:
                    operator = await console.check_token(email, token)
                except DomainError as exc:
                    form.errors["token"] = service_message(exc)
                else:
                    ticket = console.ticket(operator, "token")
                    target = f"{CONSOLE}/two-step?next={quote(next_path)}"
                    return Redirect(target, status_code=303, cookies=[_cookie(PENDING_COOKIE, ticket, PENDING_SECONDS)])
        status = 401 if "token" in form.errors and email and token else 422
        return console_page(
            request, "operator/sign_in.html", status, step="token", email=email, next_path=next_path, errors=form.errors
        )

    @get("/two-step")
    async def two_step(
        self, request: AppRequest, next_path: Annotated[str, QueryParameter(name="next", max_length=2048)] = CONSOLE
    ) -> Template | Redirect:
        db, redis, settings = _state(request)
        async with db.operator_sessions() as session:
            console = OperatorConsole(session, redis, settings.secret_key)
            operator = await console.operator_for(console.read_ticket(request.cookies.get(PENDING_COOKIE), "token"))
            if operator is None:
                return Redirect(f"{CONSOLE}/sign-in", status_code=303)
            return self._two_step_page(request, console, operator, _safe_next(next_path), FormErrors())

    def _two_step_page(
        self,
        request: Request[Any, Any, Any],
        console: OperatorConsole,
        operator: Operator,
        next_path: str,
        errors: FormErrors,
        status: int = 200,
    ) -> Template:
        if operator.mfa_secret is not None:
            return console_page(
                request, "operator/sign_in.html", status, step="code", next_path=next_path, errors=errors
            )
        enrolment, sealed = console.new_enrolment(operator)
        return console_page(
            request,
            "operator/sign_in.html",
            status,
            step="enrol",
            enrolment=enrolment,
            sealed=sealed,
            next_path=next_path,
            errors=errors,
        )

    @post("/two-step", status_code=HTTP_200_OK)
    async def submit_two_step(self, request: AppRequest) -> Template | Redirect:
        form = await _check_form(request)
        code = form.text("code", 32, required=_("Enter the 6-digit code from your authenticator app."))
        next_path = _safe_next(form.text("next", 2048))
        db, redis, settings = _state(request)
        async with db.operator_sessions() as session:
            console = OperatorConsole(session, redis, settings.secret_key)
            operator = await console.operator_for(console.read_ticket(request.cookies.get(PENDING_COOKIE), "token"))
            if operator is None:
                return Redirect(f"{CONSOLE}/sign-in", status_code=303)
            if not form.errors:
                try:
                    if operator.mfa_secret is None:
                        secret = console.unseal_enrolment(form.text("sealed", 1000))
                        if secret is None:
                            raise Forbidden(expired_form_message())
                        await console.confirm_enrolment(operator, secret, code)
                    else:
                        await console.verify(operator, code)
                except DomainError as exc:
                    form.errors["code"] = service_message(exc)
                else:
                    admin = TenantAdmin(
                        session, Actor(name=operator.email, operator_id=operator.id), settings.public_base_domain
                    )
                    await admin.audit("operator.sign_in", None, None, {"console": True})
                    await session.commit()
                    cookies = [
                        _cookie(CONSOLE_COOKIE, console.ticket(operator, "mfa"), CONSOLE_SESSION_SECONDS),
                        _cleared(PENDING_COOKIE),
                    ]
                    return Redirect(next_path, status_code=303, cookies=cookies)
            return self._two_step_page(request, console, operator, next_path, form.errors, status=401)


class OperatorConsolePages(Controller):
    """Tenants, a tenant's page and actions, platform health, the audit log."""

    path = CONSOLE
    before_request = staticmethod(before_page)
    guards = [requires_console_operator]
    exception_handlers = {ConsoleSignInRequired: to_sign_in}
    include_in_schema = False

    @post("/sign-out", status_code=HTTP_200_OK)
    async def sign_out(self, request: AppRequest) -> Redirect:
        await _check_form(request)
        return Redirect(f"{CONSOLE}/sign-in", status_code=303, cookies=[_cleared(CONSOLE_COOKIE)])

    @get()
    async def tenants(
        self,
        request: AppRequest,
        status: FromQuery[TenantStatus | None] = None,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> Template:
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            items, total = await admin.list_tenants(status, PAGE_SIZE, offset)
            activity = await tenant_activity(session, [t.id for t in items])
            billing = await billing_by_tenant(session, [t.id for t in items])
            counts = {s: (await admin.list_tenants(s, 1, 0))[1] for s in TenantStatus}
        return console_page(
            request,
            "operator/tenants.html",
            tenants=items,
            activity=activity,
            billing=billing,
            total=total,
            offset=offset,
            limit=PAGE_SIZE,
            status=status.value if status else "",
            counts=counts,
            all_count=sum(counts.values()),
        )

    @get("/tenants/new")
    async def new_tenant(self, request: AppRequest) -> Template:
        return console_page(request, "operator/new_tenant.html", values={}, plans=PLAN_OPTIONS)

    @post("/tenants/new", status_code=HTTP_200_OK)
    async def create_tenant(self, request: AppRequest) -> Template | Redirect:
        form = await _check_form(request)
        values = {
            "slug": form.text("slug", 63, required=_("Enter the tenant's address name.")).lower(),
            "name": form.text("name", 200, required=_("Enter the tenant's name.")),
            "plan": form.text("plan", 20) or Plan.TRIAL.value,
            "seats": form.text("seats", 8) or "0",
            "admin_email": form.text("admin_email", 320, required=_("Enter the first administrator's e-mail.")),
            "admin_name": form.text("admin_name", 200),
        }
        data: TenantCreate | None = None
        if not form.errors:
            try:
                seats = int(values["seats"])
            except ValueError:
                form.errors["seats"] = _("Enter the number of seats as a whole number.")
                seats = 0
            try:
                raw = {"slug": values["slug"], "name": values["name"], "plan": values["plan"], "seats": seats}
                data = msgspec.convert(raw, TenantCreate)
            except msgspec.ValidationError as exc:
                form.errors[_field_of(exc, ("slug", "name", "plan", "seats"))] = _field_message(exc)
        invitation = None
        if not form.errors:
            try:
                invitation = first_admin(values["admin_email"], values["admin_name"])
            except DomainError as exc:
                form.errors[exc.field or "admin_email"] = service_message(exc)
        if form.errors or data is None or invitation is None:
            return console_page(
                request, "operator/new_tenant.html", 422, values=values, plans=PLAN_OPTIONS, errors=form.errors
            )
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            try:
                tenant = await admin.create(data.slug, data.name, data.plan, data.seats)
                await admin.audit("tenant.invite_admin", tenant.id, None, {"email": invitation.email})
                await session.commit()
            except DomainError as exc:
                await session.rollback()
                form.errors[exc.field or "slug"] = service_message(exc)
                return console_page(
                    request,
                    "operator/new_tenant.html",
                    exc.status,
                    values=values,
                    plans=PLAN_OPTIONS,
                    errors=form.errors,
                )
        await invite_first_admin(db, settings, tenant, invitation)
        request.app.state.tenant_resolver.invalidate()
        flash = _("%(name)s is ready. An invitation was sent to %(email)s.", name=tenant.name, email=invitation.email)
        return Redirect(f"{CONSOLE}/tenants/{tenant.id}?flash={quote(flash)}", status_code=303)

    @get("/tenants/{tenant_id:uuid}")
    async def tenant_page(
        self,
        request: AppRequest,
        tenant_id: FromPath[UUID],
        flash: Annotated[str | None, QueryParameter(max_length=300)] = None,
    ) -> Template:
        return await self._tenant_page(request, tenant_id, flash=flash)

    async def _tenant_page(
        self, request: Request[Any, Any, Any], tenant_id: UUID, status: int = 200, **context: Any
    ) -> Template:
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            tenant = await admin.describe(await admin.get(tenant_id))
            activity = (await tenant_activity(session, [tenant_id]))[tenant_id]
            audit = await admin.audit_log(tenant_id, PageParams(limit=20, offset=0))
            plans = [(plan.key, plan.name) for plan in await list_plans(session)]
        # A deleted tenant keeps its rows until purged, but has no billing to look after.
        usage = await tenant_usage(db, settings, tenant_id) if tenant.status is not TenantStatus.DELETED else None
        return console_page(
            request,
            "operator/tenant.html",
            status,
            tenant=tenant,
            activity=activity,
            audit=audit.items,
            billing_plans=plans,
            usage=usage,
            charts=_usage_charts(usage) if usage else {},
            site_host=f"{tenant.slug}.{settings.public_base_domain}",
            **context,
        )

    @post("/tenants/{tenant_id:uuid}/billing", status_code=HTTP_200_OK)
    async def change_billing(self, request: AppRequest, tenant_id: FromPath[UUID]) -> Template | Redirect:
        """Comp seats, extend the trial, or change plan and seats: the operator API's override, each with
        a reason, confirmed when it takes seats below those in use or moves to a smaller plan."""
        form = await _check_form(request)
        action = form.text("action", 20)
        if action not in BILLING_ACTIONS:
            raise NotFound("no such action")
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            await TenantAdmin(session, _actor(request), settings.public_base_domain).get(tenant_id)  # 404
        reason_field = f"{action}_reason"
        raw: dict[str, Any] = {"reason": form.text(reason_field, 500, required=_("Say why, for the audit log."))}
        for name in BILLING_ACTIONS[action]:
            value = form.text(name, 32)
            if name == "plan":
                raw[name] = value or None
            elif value:
                try:
                    raw[name] = int(value)
                except ValueError:
                    form.errors[name] = _("Enter a whole number.")
            elif name != "seats":  # without seats, a plan change keeps them
                form.errors[name] = _("Enter a whole number.")
        change: OverrideIn | None = None
        if not form.errors:
            try:
                change = msgspec.convert(raw, OverrideIn)
            except msgspec.ValidationError as exc:
                named = _field_of(exc, ("reason", *BILLING_ACTIONS[action]))
                form.errors[reason_field if named == "reason" else named] = _field_message(exc)
        if change is not None and not form.errors and form.text("confirm", 8) != "yes":
            taken = await override_confirmation(db, settings, tenant_id, change)
            if taken == "seats":
                form.errors[f"confirm_{action}"] = _(
                    "Fewer seats than are in use: new learners cannot enrol until some leave. Tick the box to confirm."
                )
            elif taken == "plan":
                form.errors[f"confirm_{action}"] = _(
                    "A smaller plan: features of the current plan stop at once. Tick the box to confirm."
                )
        if change is not None and not form.errors:
            try:
                await apply_override(db, settings, tenant_id, _actor(request), change)
            except DomainError as exc:
                field = exc.field if exc.field in BILLING_ACTIONS[action] else BILLING_ACTIONS[action][0]
                form.errors[field] = service_message(exc)
        if form.errors:
            values = {name: form.text(name, 32) for name in BILLING_ACTIONS[action]}
            values[reason_field] = form.text(reason_field, 500)
            return await self._tenant_page(
                request, tenant_id, 422, errors=form.errors, open_action=action, values=values
            )
        done = {
            "comp": _("Comp seats saved."),
            "trial": _("The trial is extended."),
            "plan": _("Plan and seats saved."),
        }[action]
        return Redirect(f"{CONSOLE}/tenants/{tenant_id}?flash={quote(done)}#billing-title", status_code=303)

    @post("/tenants/{tenant_id:uuid}/status", status_code=HTTP_200_OK)
    async def change_status(self, request: AppRequest, tenant_id: FromPath[UUID]) -> Template | Redirect:
        """Suspend, resume, delete or purge, each confirmed and (but resume) with a reason."""
        form = await _check_form(request)
        action = form.text("action", 20)
        if action not in STATUS_ACTIONS:
            raise NotFound("no such action")
        reason = form.text("reason", 500, required="" if action == "resume" else _("Say why, for the audit log."))
        confirm = form.text("confirm", 63)
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            tenant = await admin.get(tenant_id)
            if action in ("delete", "purge") and confirm != tenant.slug:
                form.errors["confirm"] = _("Type the tenant's address name, %(slug)s, to confirm.", slug=tenant.slug)
            elif action == "suspend" and confirm != "yes":
                form.errors["confirm"] = _("Tick the box to confirm.")
            if not form.errors:
                try:
                    if action == "suspend":
                        await admin.suspend(tenant_id, reason)
                    elif action == "resume":
                        await admin.resume(tenant_id)
                    elif action == "delete":
                        await admin.delete(tenant_id)
                        await admin.audit("tenant.delete_reason", tenant_id, None, {"reason": reason})
                    else:
                        await admin.request_purge(tenant_id)
                        await admin.audit("tenant.purge_reason", tenant_id, None, {"reason": reason})
                    await session.commit()
                except DomainError as exc:
                    await session.rollback()
                    form.errors["action"] = service_message(exc)
        if form.errors:
            return await self._tenant_page(request, tenant_id, 422, errors=form.errors, open_action=action)
        request.app.state.tenant_resolver.invalidate()
        done = {
            "suspend": _("The site is suspended: its users see the suspended page."),
            "resume": _("The site is open again."),
            "delete": _("The tenant is deleted: its site answers “not found”. Its data is kept until purged."),
            "purge": _("The purge is queued: every row of the tenant will be deleted."),
        }[action]
        return Redirect(f"{CONSOLE}/tenants/{tenant_id}?flash={quote(done)}", status_code=303)

    @post("/tenants/{tenant_id:uuid}/settings", status_code=HTTP_200_OK)
    async def change_settings(self, request: AppRequest, tenant_id: FromPath[UUID]) -> Template | Redirect:
        """Name and branding (the same change as PATCH /api/v1/operator/tenants/{id}); plan and seats are
        the billing account's, changed in the billing panel."""
        form = await _check_form(request)
        raw: dict[str, Any] = {"name": form.text("name", 200, required=_("Enter the tenant's name."))}
        branding = {
            key: value for key in ("primary_color", "accent_color", "logo_url") if (value := form.text(key, 2048))
        }
        data: TenantUpdate | None = None
        if not form.errors:
            try:
                data = msgspec.convert({**raw, "branding": branding}, TenantUpdate)
                msgspec.convert(branding, Branding)
            except msgspec.ValidationError as exc:
                form.errors[_field_of(exc, ("name", "primary_color", "accent_color", "logo_url"))] = _field_message(exc)
        if form.errors or data is None:
            return await self._tenant_page(request, tenant_id, 422, errors=form.errors, open_action="settings")
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            current = await admin.get(tenant_id)
            # The form edits three branding keys; others (the default language) are kept.
            merged = msgspec.convert({**current.branding, **branding}, Branding) if branding else msgspec.UNSET
            try:
                await admin.change(tenant_id, TenantUpdate(name=data.name, branding=merged))
                await session.commit()
            except DomainError as exc:
                await session.rollback()
                form.errors[exc.field or "name"] = service_message(exc)
                return await self._tenant_page(
                    request, tenant_id, exc.status, errors=form.errors, open_action="settings"
                )
        request.app.state.tenant_resolver.invalidate()
        return Redirect(f"{CONSOLE}/tenants/{tenant_id}?flash={quote(_('Changes saved.'))}", status_code=303)

    @get("/health")
    async def health(
        self,
        request: AppRequest,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
        flash: Annotated[str | None, QueryParameter(max_length=300)] = None,
    ) -> Template:
        db, redis, settings = _state(request)
        report = await platform_health(db, redis, settings, PAGE_SIZE, offset)
        return console_page(request, "operator/health.html", report=report, offset=offset, limit=PAGE_SIZE, flash=flash)

    @post("/dead-letters/{letter_id:uuid}/{action:str}", status_code=HTTP_200_OK)
    async def handle_dead_letter(
        self, request: AppRequest, letter_id: FromPath[UUID], action: FromPath[str]
    ) -> Redirect:
        """Retry (after the cause is fixed) or discard a progress event the fold set aside."""
        await _check_form(request)
        db, redis, settings = _state(request)
        if action == "retry":
            keys = StreamKeys.for_queue(settings.celery_queue)
            tenant_id = await retry_dead_letter(db, redis, keys, letter_id)
            done = _("The event was sent to the fold again.")
        elif action == "discard":
            tenant_id = await discard_dead_letter(db, letter_id)
            done = _("The dead letter was discarded.")
        else:
            raise NotFound("no such action")
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            await admin.audit(f"dead_letter.{action}", tenant_id, None, {"letter_id": str(letter_id)})
            await session.commit()
        return Redirect(f"{CONSOLE}/health?flash={quote(done)}", status_code=303)

    @get("/audit")
    async def audit(
        self, request: AppRequest, offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0
    ) -> Template:
        db, _redis, settings = _state(request)
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, _actor(request), settings.public_base_domain)
            entries = await admin.audit_log(None, PageParams(limit=PAGE_SIZE, offset=offset))
        return console_page(request, "operator/audit.html", entries=entries, offset=offset, limit=PAGE_SIZE)


def _usage_charts(usage: TenantUsage) -> dict[str, str]:
    """The tenant page's charts: seats and storage (on the days with a snapshot), enrolments with completions."""
    seat_days = [d for d in usage.days if d.seats_used is not None]
    seats = line_chart(
        _("Seats used and licensed per day"),
        [format_day(d.day) for d in seat_days],
        [
            Series(_("Seats used"), [float(d.seats_used or 0) for d in seat_days]),
            Series(_("Seats licensed"), [float(d.seats_licensed or 0) for d in seat_days]),
        ],
        "chart-seats",
    )
    learning = line_chart(
        _("Enrolments and completions per day"),
        [format_day(d.day) for d in usage.days],
        [
            Series(_("Enrolments"), [float(d.enrolments) for d in usage.days]),
            Series(_("Completions"), [float(d.completions) for d in usage.days]),
        ],
        "chart-learning",
    )
    storage_days = [d for d in usage.days if d.storage_bytes is not None]
    storage = line_chart(
        _("Media storage per day, in megabytes"),
        [format_day(d.day) for d in storage_days],
        [Series(_("Megabytes"), [round((d.storage_bytes or 0) / 1_048_576, 1) for d in storage_days])],
        "chart-storage",
    )
    return {"seats": seats if seat_days else "", "learning": learning, "storage": storage if storage_days else ""}


def _field_of(exc: msgspec.ValidationError, fields: tuple[str, ...]) -> str:
    """The form field a msgspec error names (`... - at `$.seats``)."""
    message = str(exc)
    return next((name for name in fields if f"$.{name}" in message or f"`$.branding.{name}`" in message), fields[0])


def _field_message(exc: msgspec.ValidationError) -> str:
    message = str(exc).split(" - at ", 1)[0]
    return _("This value is not valid: %(reason)s.", reason=message)
