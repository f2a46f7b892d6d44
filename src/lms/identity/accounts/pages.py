"""The account page: name, language, time zone, password, two-step sign-in and active sessions.

Plain HTML forms (CSRF field checked by the session guard); each section posts to its own route and
comes back to /account with a message, or with the field errors of that section.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.db.providers import DbSession
from lms.identity.accounts.services.own_account import active_sessions, current_user, update_profile
from lms.identity.controllers import IDENTITY_SERVICES
from lms.identity.guards import Principal, requires_user
from lms.identity.mfa.services import TotpFactor, mfa_required_for
from lms.identity.models import User
from lms.identity.signin.services.local import change_password, sso_required
from lms.identity.signin.services.sessions import SessionIssuer, cleared_cookies, revoke_user_sessions, session_cookies
from lms.identity.signin.services.throttle import SignInThrottle
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.web import i18n
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, load_viewer, page

ACCOUNT = "identity/account.html"
MAX_NAME = 200
MAX_PASSWORD = 1024


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))


class AccountPagesController(Controller):
    before_request = staticmethod(before_page)
    guards = [requires_user]
    include_in_schema = False
    dependencies = IDENTITY_SERVICES

    async def render(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: TotpFactor,
        user: User,
        status: int = 200,
        **context: Any,
    ) -> Template:
        await load_viewer(request)
        context.setdefault("errors", FormErrors())
        return page(
            request,
            ACCOUNT,
            status_code=status,
            user=user,
            languages=[("", _("Same as my browser"))]
            + [(code, i18n.language_name(code)) for code in i18n.SUPPORTED_LOCALES],
            time_zones=[("", _("Not set (UTC)"))] + [(zone, zone.replace("_", " ")) for zone in time_zone_names()],
            sessions=await active_sessions(db_session, user.id),
            mfa_required=await mfa_required_for(db_session, user),
            recovery_codes_left=await totp.recovery_codes_left(user.id) if user.mfa_enabled else 0,
            passwords_enabled=not await sso_required(db_session, user.tenant_id),
            **context,
        )

    @get("/account")
    async def account(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: NamedDependency[TotpFactor],
        principal: NamedDependency[Principal],
        saved: FromQuery[str] = "",
    ) -> Template:
        messages = {
            "profile": _("Your profile is saved."),
            "password": _("Your password is changed. Other devices have been signed out."),
            "mfa-off": _("Two-step sign-in is turned off."),
        }
        return await self.render(
            request, db_session, totp, await current_user(db_session, principal), flash=messages.get(saved[:20])
        )

    @post("/account/profile", status_code=HTTP_200_OK)
    async def save_profile(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: NamedDependency[TotpFactor],
        principal: NamedDependency[Principal],
    ) -> Template | Redirect:
        user = await current_user(db_session, principal)
        form = await FormData.read(request)
        name = form.text("display_name", MAX_NAME, required=_("Enter your name."))
        locale = form.text("locale", 16)
        zone = form.text("time_zone", 64)
        if locale and locale not in i18n.SUPPORTED_LOCALES:
            form.errors["locale"] = _("Choose a language from the list.")
        if zone and not i18n.valid_time_zone(zone):
            form.errors["time_zone"] = _("Choose a time zone from the list.")
        if form.errors:
            return await self.render(request, db_session, totp, user, 422, errors=form.errors)
        await update_profile(db_session, user, name, locale or None, zone or None)
        return Redirect("/account?saved=profile", status_code=303)

    @post("/account/password", status_code=HTTP_200_OK)
    async def change_password(
        self,
        request: AppRequest,
        db_session: DbSession,
        throttle: NamedDependency[SignInThrottle],
        sessions: NamedDependency[SessionIssuer],
        totp: NamedDependency[TotpFactor],
        principal: NamedDependency[Principal],
    ) -> Template | Redirect:
        """Every other session ends; this browser continues with a new one."""
        user = await current_user(db_session, principal)
        form = await FormData.read(request)
        current = form.text("current_password", MAX_PASSWORD, required=_("Enter your current password."), strip=False)
        new = form.text("new_password", MAX_PASSWORD, required=_("Choose a new password."), strip=False)
        if form.errors:
            return await self.render(request, db_session, totp, user, 422, errors=form.errors)
        ip = request.client.host if request.client else "unknown"
        try:
            await change_password(db_session, user, current, new, throttle, ip)
        except DomainError as exc:
            field = exc.field if exc.field in ("current_password", "new_password") else "current_password"
            form.errors[field] = service_message(exc)
            return await self.render(request, db_session, totp, user, exc.status, errors=form.errors)
        pair = await sessions.start(user)
        return Redirect("/account?saved=password", status_code=303, cookies=session_cookies(pair))

    @post("/account/mfa", status_code=HTTP_200_OK)
    async def begin_mfa(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: NamedDependency[TotpFactor],
        principal: NamedDependency[Principal],
    ) -> Template:
        user = await current_user(db_session, principal)
        enrolment = await totp.begin_enrolment(user)
        return await self.render(request, db_session, totp, user, enrolment=enrolment)

    @post("/account/mfa/confirm", status_code=HTTP_200_OK)
    async def confirm_mfa(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: NamedDependency[TotpFactor],
        principal: NamedDependency[Principal],
    ) -> Template:
        user = await current_user(db_session, principal)
        form = await FormData.read(request)
        code = form.text("code", 32, required=_("Enter the 6-digit code from your app."))
        if not form.errors:
            try:
                codes = await totp.confirm(user, code)
            except DomainError:
                form.errors["code"] = _("That code is not correct. Try the newest code from your app.")
            else:
                return await self.render(request, db_session, totp, user, recovery_codes=codes)
        enrolment = totp.pending_enrolment(user) or await totp.begin_enrolment(user)
        return await self.render(request, db_session, totp, user, 422, errors=form.errors, enrolment=enrolment)

    @post("/account/mfa/disable", status_code=HTTP_200_OK)
    async def disable_mfa(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: NamedDependency[TotpFactor],
        principal: NamedDependency[Principal],
    ) -> Template | Redirect:
        user = await current_user(db_session, principal)
        form = await FormData.read(request)
        code = form.text("disable_code", 32, required=_("Enter a code from your app or a recovery code."))
        if not form.errors:
            try:
                await totp.disable(user, code)
            except DomainError as exc:
                form.errors["disable_code"] = service_message(exc)
            else:
                return Redirect("/account?saved=mfa-off", status_code=303)
        return await self.render(request, db_session, totp, user, 422, errors=form.errors)

    @post("/account/sessions/sign-out-everywhere", status_code=HTTP_200_OK)
    async def sign_out_everywhere(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Redirect:
        """Every session of this person ends, this one included (access tokens within seconds)."""
        await revoke_user_sessions(db_session, principal.user_id)
        return Redirect("/sign-in?signed_out=1", status_code=303, cookies=cleared_cookies())
