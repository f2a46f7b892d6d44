"""Sign-in pages (server-rendered, tenant-branded): e-mail first, then password or single sign-on,
the second totp, enrolment when the tenant requires it, sign-out, invitations and password resets.

Every page works as a plain HTML form; each post carries the CSRF field of the double-submit cookie.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.db.providers import DbSession
from lms.identity.accounts.services.directory import UserDirectory
from lms.identity.controllers import IDENTITY_SERVICES
from lms.identity.guards import REFRESH_COOKIE, allows_anonymous
from lms.identity.mfa.services import InvalidMfaCode, TotpFactor
from lms.identity.models import ActionPurpose
from lms.identity.signin.services.local import (
    MfaRequired,
    PasswordSignIn,
    accept_invitation,
    consume_link,
    peek_link,
    request_password_reset,
    reset_password,
    sso_required,
)
from lms.identity.signin.services.sessions import SessionIssuer, cleared_cookies, session_cookies
from lms.identity.signin.services.throttle import SignInThrottle
from lms.identity.sso.services.provisioning import provider_for_email, safe_next_path
from lms.lib.errors import DomainError, RateLimited
from lms.lib.params import AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.web.forms import FormData, FormErrors, expired_form_message, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, load_viewer, page

SIGN_IN = "identity/sign_in.html"
SET_PASSWORD = "identity/set_password.html"
MAX_EMAIL = 320
MAX_PASSWORD = 1024
MAX_CODE = 32
MAX_TOKEN = 200


def sign_in_page(request: AppRequest, step: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("errors", FormErrors())
    context.setdefault("email", "")
    context.setdefault("next_path", "/")
    return page(request, SIGN_IN, status_code=status, step=step, **context)


def signed_in_redirect(pair: Any, next_path: str) -> Redirect:
    return Redirect(safe_next_path(next_path), status_code=303, cookies=session_cookies(pair))


class SignInPagesController(Controller):
    before_request = staticmethod(before_page)
    guards = [allows_anonymous("these pages are where anonymous visitors sign in")]
    include_in_schema = False
    dependencies = IDENTITY_SERVICES

    @get("/sign-in")
    async def sign_in(
        self,
        request: AppRequest,
        next_path: Annotated[str, QueryParameter(name="next", max_length=2048)] = "/",
        signed_out: FromQuery[bool] = False,
    ) -> Template | Redirect:
        if await load_viewer(request) is not None:
            return Redirect(safe_next_path(next_path), status_code=303)
        flash = _("You are signed out.") if signed_out else None
        return sign_in_page(request, "email", next_path=safe_next_path(next_path), flash=flash)

    @post("/sign-in", status_code=HTTP_200_OK)
    async def submit_sign_in(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        throttle: NamedDependency[SignInThrottle],
        totp: NamedDependency[TotpFactor],
        sessions: NamedDependency[SessionIssuer],
    ) -> Template | Redirect:
        """One form, three steps: e-mail (discovery), password, then a code when the account has MFA."""
        form = await FormData.read(request)
        next_path = safe_next_path(form.text("next", 2048))
        email = form.text("email", MAX_EMAIL, required=_("Enter your e-mail address."))
        if email and "@" not in email:
            form.errors["email"] = _("Enter an e-mail address like name@example.com.")
        step = "email"
        if form.errors or not form.csrf_valid(request):
            if not form.errors:
                form.errors["email"] = expired_form_message()
            return sign_in_page(request, step, 400, errors=form.errors, email=email, next_path=next_path)
        if "password" not in form.fields:
            provider = await provider_for_email(db_session, email)
            if provider is not None:
                return Redirect(f"/auth/sso/{provider.id}/login?next={quote(next_path, safe='/')}", status_code=303)
            if await sso_required(db_session, tenant.id):
                form.errors["email"] = _(
                    "This site signs in with your company's single sign-on, which is not set up for this address."
                )
                return sign_in_page(request, step, 400, errors=form.errors, email=email, next_path=next_path)
            return sign_in_page(request, "password", email=email, next_path=next_path)
        step = "password"
        password = form.text("password", MAX_PASSWORD, required=_("Enter your password."), strip=False)
        code = form.text("mfa_code", MAX_CODE) if "mfa_code" in form.fields else None
        if code is not None:
            step = "mfa"
        if form.errors:
            return sign_in_page(request, step, 400, errors=form.errors, email=email, next_path=next_path)
        signin = PasswordSignIn(db_session, tenant.id, throttle)
        ip = request.client.host if request.client else "unknown"
        try:
            user = await signin.authenticate(email, password, ip)
            enrolment_token = await signin.complete(user, code or None, totp, ip)
        except MfaRequired:
            return sign_in_page(request, "mfa", email=email, password=password, next_path=next_path)
        except InvalidMfaCode:
            form.errors["mfa_code"] = _("That code is not correct. Try the newest code from your app.")
            return sign_in_page(
                request, "mfa", 401, errors=form.errors, email=email, password=password, next_path=next_path
            )
        except RateLimited:
            form.errors["password"] = _("Too many attempts. Please wait a minute before you try again.")
            return sign_in_page(request, step, 429, errors=form.errors, email=email, next_path=next_path)
        except DomainError as exc:
            form.errors["password"] = (
                _("The e-mail address or password is not correct.") if exc.status == 401 else service_message(exc)
            )
            return sign_in_page(request, "password", exc.status, errors=form.errors, email=email, next_path=next_path)
        if enrolment_token is not None:
            enrolment = await totp.begin_enrolment(user)
            return sign_in_page(
                request, "enrol", enrolment=enrolment, enrolment_token=enrolment_token, next_path=next_path
            )
        return signed_in_redirect(await sessions.start(user), next_path)

    @post("/sign-in/enrol", status_code=HTTP_200_OK)
    async def confirm_enrolment(
        self,
        request: AppRequest,
        db_session: DbSession,
        totp: NamedDependency[TotpFactor],
        sessions: NamedDependency[SessionIssuer],
    ) -> Template:
        """Enrolment the tenant requires at first sign-in: confirm a code, then show the recovery codes."""
        form = await FormData.read(request)
        next_path = safe_next_path(form.text("next", 2048))
        token = form.text("enrolment_token", MAX_TOKEN)
        code = form.text("code", MAX_CODE, required=_("Enter the 6-digit code from your app."))
        try:
            user = await peek_link(db_session, token, ActionPurpose.MFA_ENROLMENT)
        except DomainError:
            return sign_in_page(request, "email", 400, errors=FormErrors(email=expired_form_message()))
        if form.errors or not form.csrf_valid(request):
            form.errors.setdefault("code", expired_form_message())
            enrolment = totp.pending_enrolment(user) or await totp.begin_enrolment(user)
            return sign_in_page(
                request,
                "enrol",
                400,
                errors=form.errors,
                enrolment=enrolment,
                enrolment_token=token,
                next_path=next_path,
            )
        try:
            codes = await totp.confirm(user, code)
        except DomainError:
            form.errors["code"] = _("That code is not correct. Try the newest code from your app.")
            enrolment = totp.pending_enrolment(user) or await totp.begin_enrolment(user)
            return sign_in_page(
                request,
                "enrol",
                400,
                errors=form.errors,
                enrolment=enrolment,
                enrolment_token=token,
                next_path=next_path,
            )
        await consume_link(db_session, token, ActionPurpose.MFA_ENROLMENT)
        pair = await sessions.start(user)
        response = sign_in_page(request, "recovery", recovery_codes=codes, next_path=next_path)
        response.cookies.extend(session_cookies(pair))
        return response

    @get("/accept-invitation")
    async def accept_invitation_page(
        self, request: AppRequest, token: Annotated[str, QueryParameter(max_length=MAX_TOKEN)] = ""
    ) -> Template:
        return set_password_page(request, "invitation", token)

    @post("/accept-invitation", status_code=HTTP_200_OK)
    async def accept_invitation_submit(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        sessions: NamedDependency[SessionIssuer],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        token = form.text("token", MAX_TOKEN)
        password = form.text("password", MAX_PASSWORD, required=_("Choose a password."), strip=False)
        name = form.text("display_name", 200)
        if form.errors or not form.csrf_valid(request):
            form.errors.setdefault("password", expired_form_message())
            return set_password_page(request, "invitation", token, form.errors, 400)
        try:
            user = await accept_invitation(db_session, tenant.id, token, password, name or None)
        except DomainError as exc:
            form.errors["password" if exc.field != "token" else "token"] = service_message(exc)
            return set_password_page(request, "invitation", token, form.errors, exc.status)
        return signed_in_redirect(await sessions.start(user), "/")

    @get("/reset-password")
    async def reset_password_page(
        self, request: AppRequest, token: Annotated[str, QueryParameter(max_length=MAX_TOKEN)] = ""
    ) -> Template:
        return set_password_page(request, "reset", token)

    @post("/reset-password", status_code=HTTP_200_OK)
    async def reset_password_submit(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        throttle: NamedDependency[SignInThrottle],
        directory: NamedDependency[UserDirectory],
    ) -> Template:
        """Without a token: send a link. With one: set the new password."""
        form = await FormData.read(request)
        token = form.text("token", MAX_TOKEN)
        if not token:
            email = form.text("email", MAX_EMAIL, required=_("Enter your e-mail address."))
            if form.errors or not form.csrf_valid(request):
                form.errors.setdefault("email", expired_form_message())
                return set_password_page(request, "reset", "", form.errors, 400)
            await request_password_reset(directory, email, throttle)
            return set_password_page(request, "reset", "", sent=True)
        password = form.text("password", MAX_PASSWORD, required=_("Choose a password."), strip=False)
        if form.errors or not form.csrf_valid(request):
            form.errors.setdefault("password", expired_form_message())
            return set_password_page(request, "reset", token, form.errors, 400)
        try:
            await reset_password(db_session, tenant.id, token, password)
        except DomainError as exc:
            form.errors["password" if exc.field != "token" else "token"] = service_message(exc)
            return set_password_page(request, "reset", token, form.errors, exc.status)
        return sign_in_page(request, "email", flash=_("Your password has been changed. Sign in with it now."))


def set_password_page(
    request: AppRequest,
    purpose: str,
    token: str,
    errors: FormErrors | None = None,
    status: int = 200,
    sent: bool = False,
) -> Template:
    return page(
        request,
        SET_PASSWORD,
        status_code=status,
        purpose=purpose,
        token=token,
        errors=errors or FormErrors(),
        sent=sent,
    )


class SignOutController(Controller):
    """Sign-out from a page: under /api/v1/auth so that the browser sends the refresh cookie, whose
    family is revoked; answers with a redirect, never JSON."""

    path = "/api/v1/auth/sign-out"
    guards = [allows_anonymous("signing out must work even when the session has already expired")]
    include_in_schema = False
    dependencies = IDENTITY_SERVICES

    @post("/", status_code=HTTP_200_OK)
    async def sign_out(
        self, request: AppRequest, db_session: DbSession, sessions: NamedDependency[SessionIssuer]
    ) -> Response[Any]:
        form = await FormData.read(request)
        if not form.csrf_valid(request):
            # A foreign page cannot sign anyone out; a stale form just goes back home.
            return Redirect("/", status_code=303)
        raw = request.cookies.get(REFRESH_COOKIE)
        if raw:
            await sessions.revoke(raw)
        return Redirect("/sign-in?signed_out=1", status_code=303, cookies=cleared_cookies())
