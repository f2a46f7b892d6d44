"""What every page shares: the signed-in person (if any), navigation by role, locale, CSRF token."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import MediaType
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Template

from lms.billing.guards import current_licence
from lms.db.binding import tenant_session
from lms.db.providers import DbSession
from lms.identity.guards import CSRF_COOKIE, CSRF_FORM_FIELD, SESSION_COOKIE, Principal, authenticate
from lms.identity.models import Role, User
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.web import i18n
from lms.web.branding import brand_for

CSRF_FIELD = CSRF_FORM_FIELD
CSRF_LIFETIME_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as pages show them."""

    user_id: UUID
    display_name: str
    email: str
    roles: frozenset[str]
    locale: str | None
    time_zone: str | None


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


def navigation(viewer: Viewer | None) -> list[NavItem]:
    """Learner entries for everyone signed in; staff entries only for their roles."""
    _ = i18n.gettext
    if viewer is None:
        return []
    items = [
        NavItem(_("My learning"), "/"),
        NavItem(_("Catalogue"), "/courses"),
        NavItem(_("Certificates"), "/certificates"),
    ]
    if Role.INSTRUCTOR.value in viewer.roles:
        items.append(NavItem(_("Teaching"), "/teach"))
    if Role.TENANT_ADMIN.value in viewer.roles:
        items.append(NavItem(_("Administration"), "/admin"))
        items.append(NavItem(_("Seats & billing"), "/admin/billing"))
    return items


def admin_sections() -> list[tuple[str, str, int | None]]:
    """The admin console's own navigation (tabs under the page title), the same on every admin page."""
    _ = i18n.gettext
    return [
        ("/admin", _("Setup"), None),
        ("/admin/users", _("Users"), None),
        ("/admin/users/import", _("Import users"), None),
        ("/admin/groups", _("Groups"), None),
        ("/admin/training", _("Assigned training"), None),
        ("/admin/sso", _("Single sign-on"), None),
        ("/admin/branding", _("Branding"), None),
        ("/admin/domains", _("Domains"), None),
        ("/admin/audit", _("Audit log"), None),
        ("/admin/privacy", _("Privacy"), None),
    ]


async def load_viewer(request: AppRequest, session: DbSession | None = None) -> Viewer | None:
    """The signed-in person, or None for a visitor (an expired or foreign session counts as none).
    Cached on the request; also sets the request's locale and time zone. With `session` (the page's
    request session) the user is read in the page's own transaction; without, in a short one."""
    state = request.scope.setdefault("state", {})
    if "viewer" in state:
        return state["viewer"]  # type: ignore[no-any-return]
    viewer: Viewer | None = None
    principal = state.get("principal")
    if not isinstance(principal, Principal) and request.cookies.get(SESSION_COOKIE) is not None:
        try:
            principal = await authenticate(request)
        except DomainError:
            principal = None
    if isinstance(principal, Principal):
        if session is not None:
            user = await session.get(User, principal.user_id)
        else:
            async with tenant_session(request.app.state.db.app_sessions, principal.tenant_id) as own:
                user = await own.get(User, principal.user_id)
        if user is not None:
            viewer = Viewer(user.id, user.display_name, user.email, principal.roles, user.locale, user.time_zone)
    state["viewer"] = viewer
    if viewer is not None and isinstance(principal, Principal) and Role.TENANT_ADMIN.value in viewer.roles:
        # Admins see the unpaid subscription on every page, until it is paid.
        licence = await current_licence(request, principal.tenant_id)
        state["billing_notice"] = licence.status if licence.status in ("past_due", "suspended") else None
    activate_locale(request, viewer)
    return viewer


# Where a handler keeps whether it takes the request's session (computed on its first request).
_TAKES_SESSION = "lms_takes_db_session"


def takes_db_session(handler: BaseRouteHandler) -> bool:
    """Whether resolving `handler`'s arguments opens the request's `db_session`."""
    known = handler.opt.get(_TAKES_SESSION)
    if isinstance(known, bool):
        return known
    providers = handler.resolve_dependencies()
    wanted = list(handler.parsed_fn_signature.parameters)
    seen: set[str] = set()
    found = False
    while wanted and not found:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        found = name == "db_session"
        provider = providers.get(name)
        if provider is not None and provider.parsed_fn_signature is not None:
            wanted.extend(provider.parsed_fn_signature.parameters)
    handler.opt[_TAKES_SESSION] = found
    return found


async def before_page(request: AppRequest) -> None:
    """`before_request` of page controllers: who is signed in, and so the language, before any text.
    A page that takes the request's session reads the viewer in it (`provide_page_session`), so a
    page request is one transaction; any other page reads it here."""
    i18n.begin_request()
    if not takes_db_session(request.route_handler):
        await load_viewer(request)


async def provide_page_session(request: AppRequest) -> AsyncGenerator[DbSession, None]:
    """`db_session` of pages: the request's tenant-bound session (committed if the handler succeeds,
    as for every handler), which first reads the signed-in viewer, in the same transaction."""
    tenant = request.scope.get("state", {}).get("tenant")
    async with tenant_session(request.app.state.db.app_sessions, tenant.id if tenant is not None else None) as session:
        await load_viewer(request, session)
        yield session


PAGE_DEPENDENCIES = {"db_session": Provide(provide_page_session)}


def activate_locale(request: AppRequest, viewer: Viewer | None) -> str:
    tenant = request.scope.get("state", {}).get("tenant")
    tenant_locale = tenant.branding.get("default_locale") if tenant is not None else None
    locale = i18n.choose_locale(
        viewer.locale if viewer else None, request.headers.get("accept-language", ""), tenant_locale
    )
    i18n.activate(locale, (viewer.time_zone if viewer else None) or "UTC")
    request.scope["state"]["locale"] = locale
    return locale


def csrf_token(request: AppRequest) -> tuple[str, list[Cookie]]:
    """The double-submit token for forms; a visitor without one gets a new cookie with this page."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing, []
    state = request.scope.setdefault("state", {})
    token = state.get("new_csrf") or secrets.token_urlsafe(24)
    state["new_csrf"] = token
    cookie = Cookie(
        key=CSRF_COOKIE,
        value=token,
        path="/",
        max_age=CSRF_LIFETIME_SECONDS,
        httponly=False,
        secure=True,
        samesite="lax",
    )
    return token, [cookie]


def page_context(request: AppRequest, **context: Any) -> dict[str, Any]:
    state = request.scope.setdefault("state", {})
    tenant = state.get("tenant")
    viewer = state.get("viewer")
    locale = state.get("locale") or activate_locale(request, viewer)
    token, _ = csrf_token(request)
    return {
        "brand": brand_for(tenant),
        "tenant": tenant,
        "viewer": viewer,
        "nav": navigation(viewer),
        "current_path": request.url.path,
        "locale": locale,
        "text_direction": i18n.text_direction(locale),
        "csrf_field": CSRF_FIELD,
        "csrf_token": token,
        "request_id": state.get("request_id", ""),
        "billing_notice": state.get("billing_notice"),
        **context,
    }


def page(request: AppRequest, template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A page in the base layout. Call `await load_viewer(request)` first to show the signed-in state."""
    full_context = page_context(request, **context)
    _, cookies = csrf_token(request)
    # Pages carry a CSRF token and often personal data: no shared cache may keep them.
    headers = {"Cache-Control": "private, no-store"}
    # Explicit: a handler that may also answer JSON (`-> Any`) would otherwise label the page as JSON.
    return Template(
        template_name=template,
        context=full_context,
        status_code=status_code,
        cookies=cookies,
        headers=headers,
        media_type=MediaType.HTML,
    )
